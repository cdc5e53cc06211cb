/*
 * rustredis under a threaded embedder (the way FrankenPHP runs PHP): one process, PHP started once
 * on the main thread with the embed SAPI, then requests on several threads at once, each thread
 * (ts_resource) running several requests (php_request_startup, php_execute_script,
 * php_request_shutdown) of request.php. Checks:
 *   (a) 20 locked increments of one session on 5 threads, 4 each: exactly 20, with real waits;
 *   (b) while a request on one thread holds the lock, read_and_close on another returns at once
 *       with the committed data, and a locking start on a third waits and sees the new write;
 *   (c) session_regenerate_id(true) on a thread: the data moves, the old id is gone;
 *   (d) 8 threads x 10 increments, each thread on its own session: exactly 10 each.
 * Usage: threads /path/to/request.php, with RUSTREDIS_EXT (librustredis.so) and
 * RUSTREDIS_TEST_REDIS (tcp://host:port) set. Prints "N passed, M failed"; exits 1 on a failure.
 */
#include <sapi/embed/php_embed.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 4096

typedef struct {
	const char *argv[8]; /* argv[0] is the script, set by run() */
	char out[OUT_MAX];
	size_t len;
} job_t;

typedef struct {
	job_t **jobs;
	int n;
	pthread_t thread;
} worklist_t;

static const char *script;
static __thread job_t *current; /* the request running on this thread: its output goes there */
static int passed, failed;

static size_t capture_write(const char *str, size_t len)
{
	job_t *j = current;
	if (!j) {
		return fwrite(str, 1, len, stderr);
	}
	size_t room = OUT_MAX - 1 - j->len, n = len < room ? len : room;
	memcpy(j->out + j->len, str, n);
	j->len += n;
	j->out[j->len] = '\0';
	return len;
}

static void capture_flush(void *server_context) { (void) server_context; }

/* One request on the calling thread, which has its TSRM resources (ts_resource). */
static void run(job_t *j)
{
	int argc = 1;
	j->argv[0] = script;
	while (argc < 8 && j->argv[argc]) argc++;
	j->len = 0;
	j->out[0] = '\0';
	current = j;
	SG(options) |= SAPI_OPTION_NO_CHDIR;
	SG(request_info).argc = argc;
	SG(request_info).argv = (char **) j->argv;
	SG(request_info).path_translated = (char *) script;
	if (php_request_startup() == FAILURE) {
		capture_write("FAIL php_request_startup\n", 25);
		current = NULL;
		return;
	}
	/* No headers to send, but unlike php_embed_init() not SG(headers_sent) = 1: with that,
	 * session_regenerate_id() refuses ("headers have already been sent"), which a server SAPI
	 * such as FrankenPHP never makes it do. */
	SG(request_info).no_headers = 1;
	zend_file_handle fh;
	zend_stream_init_filename(&fh, script);
	zend_first_try {
		php_execute_script(&fh);
	} zend_end_try();
	zend_destroy_file_handle(&fh);
	php_request_shutdown(NULL); /* still captured: ext/session may warn here */
	SG(request_info).argc = 0;
	SG(request_info).argv = NULL;
	SG(request_info).path_translated = NULL;
	current = NULL;
}

static void *worker(void *arg)
{
	worklist_t *w = arg;
	(void) ts_resource(0);
	for (int i = 0; i < w->n; i++) run(w->jobs[i]);
	ts_free_thread();
	return NULL;
}

static void start(worklist_t *w)
{
	if (pthread_create(&w->thread, NULL, worker, w) != 0) {
		perror("pthread_create");
		exit(2);
	}
}

static void join(worklist_t *w) { pthread_join(w->thread, NULL); }

/* One request on a thread of its own, waited for. */
static const char *on_thread(job_t *j)
{
	worklist_t w = {.jobs = &j, .n = 1};
	start(&w);
	join(&w);
	return j->out;
}

static void check(int ok, const char *what, const char *fmt, ...)
{
	if (ok) {
		passed++;
		printf("ok - %s\n", what);
	} else {
		failed++;
		printf("FAIL - %s: ", what);
		va_list ap;
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* Exactly one line of output. */
static int one_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	return nl && nl[1] == '\0';
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* (a) and (d): nthreads threads, each running per_thread increments of its session. */
static void increments(int nthreads, int per_thread, int shared, const char *hold_ms)
{
	int total = nthreads * per_thread, ok = 0, waited = 0;
	job_t *jobs = calloc(total, sizeof(job_t));
	job_t **ptrs = calloc(total, sizeof(job_t *));
	worklist_t *lists = calloc(nthreads, sizeof(worklist_t));
	char (*ids)[32] = calloc(nthreads, 32);
	char what[160], dump[64];
	for (int t = 0; t < nthreads; t++) {
		snprintf(ids[t], 32, shared ? "zts-shared-counter" : "zts-own-counter-%d", t);
		lists[t].jobs = ptrs + t * per_thread;
		lists[t].n = per_thread;
	}
	for (int i = 0; i < total; i++) {
		int t = i % nthreads; /* request i runs on thread t */
		job_t *j = &jobs[i];
		j->argv[1] = "incr";
		j->argv[2] = ids[t];
		j->argv[3] = hold_ms;
		lists[t].jobs[i / nthreads] = j;
	}
	long t0 = now_ms();
	for (int t = 0; t < nthreads; t++) start(&lists[t]);
	for (int t = 0; t < nthreads; t++) join(&lists[t]);
	long elapsed = now_ms() - t0;
	const char *bad = NULL;
	for (int i = 0; i < total; i++) {
		int ms;
		if (sscanf(jobs[i].out, "ok waited_ms=%d", &ms) == 1 && one_line(jobs[i].out)) {
			ok++;
			waited += ms >= 5;
		} else if (!bad) {
			bad = jobs[i].out;
		}
	}
	snprintf(what, sizeof what, "%s: %d requests on %d threads (%d each) all succeed (%ld ms)",
		shared ? "(a) one session" : "(d) a session per thread", total, nthreads, per_thread, elapsed);
	check(ok == total, what, "%d of %d ok; first bad output: %s", ok, total, bad ? bad : "");
	for (int t = 0; t < (shared ? 1 : nthreads); t++) {
		job_t j = {.argv = {NULL, "dump", ids[t]}};
		snprintf(dump, sizeof dump, "{\"n\":%d}\n", shared ? total : per_thread);
		snprintf(what, sizeof what, "%s: %s holds n=%d", shared ? "(a)" : "(d)", ids[t],
			shared ? total : per_thread);
		on_thread(&j);
		check(strcmp(j.out, dump) == 0, what, "read back %s", j.out);
	}
	if (shared) {
		snprintf(what, sizeof what, "(a) requests on other threads waited for the lock (%d of %d)", waited, total);
		check(waited > 0, what, "no request waited: the threads never contended");
	}
	free(jobs);
	free(ptrs);
	free(lists);
	free(ids);
}

static void read_and_close_while_locked(void)
{
	char marker[256];
	snprintf(marker, sizeof marker, "%s/rustredis-zts-embed-%d.marker",
		getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int) getpid());
	unlink(marker);
	job_t set = {.argv = {NULL, "set", "zts-rac", "v", "committed"}};
	check(strcmp(on_thread(&set), "ok\n") == 0, "(b) setup: v=committed written", "%s", set.out);

	job_t hold = {.argv = {NULL, "hold", "zts-rac", marker, "1500", "v", "uncommitted"}};
	job_t peek = {.argv = {NULL, "peek", "zts-rac", "v"}};
	job_t wait = {.argv = {NULL, "wait", "zts-rac", "v"}};
	job_t *hp = &hold, *pp = &peek, *wp = &wait;
	worklist_t h = {.jobs = &hp, .n = 1}, p = {.jobs = &pp, .n = 1}, w = {.jobs = &wp, .n = 1};
	start(&h);
	int seen = 0;
	for (int i = 0; i < 1000 && !(seen = access(marker, F_OK) == 0); i++) usleep(10000);
	if (!seen) {
		join(&h);
		check(0, "(b) holder took the lock", "no marker after 10 s; holder said: %s", hold.out);
		return;
	}
	start(&p);
	start(&w);
	join(&p);
	join(&w);
	join(&h);
	unlink(marker);
	char value[64] = "";
	int ms = -1;
	sscanf(peek.out, "v=%63s ms=%d", value, &ms);
	char what[160];
	snprintf(what, sizeof what, "(b) read_and_close on another thread returns at once (%d ms) with the committed data", ms);
	check(strcmp(value, "committed") == 0 && ms >= 0 && ms < 500, what, "%s", peek.out);
	value[0] = '\0';
	ms = -1;
	sscanf(wait.out, "v=%63s ms=%d", value, &ms);
	snprintf(what, sizeof what, "(b) a locking start on a third thread waits for the holder (%d ms) and sees its write", ms);
	check(strcmp(value, "uncommitted") == 0 && ms >= 700, what, "%s", wait.out);
	check(strcmp(hold.out, "ok\n") == 0, "(b) the holder's write succeeds", "%s", hold.out);
}

static void regenerate(void)
{
	job_t set = {.argv = {NULL, "set", "zts-regen-old", "x", "1"}};
	check(strcmp(on_thread(&set), "ok\n") == 0, "(c) setup: x=1 written", "%s", set.out);
	job_t regen = {.argv = {NULL, "regen", "zts-regen-old"}};
	on_thread(&regen);
	char new_id[128] = "";
	int ok = 0;
	sscanf(regen.out, "regenerated=%d new=%127s", &ok, new_id);
	check(ok == 1 && new_id[0] && strcmp(new_id, "zts-regen-old") != 0,
		"(c) session_regenerate_id(true) on a thread gives a new id", "%s", regen.out);
	job_t moved = {.argv = {NULL, "dump", new_id}};
	check(strcmp(on_thread(&moved), "{\"x\":\"1\",\"after\":\"yes\"}\n") == 0,
		"(c) the new id holds the old data and the write after regenerating", "%s", moved.out);
	job_t old = {.argv = {NULL, "dump", "zts-regen-old"}};
	check(strcmp(on_thread(&old), "[]\n") == 0, "(c) the old id is gone", "%s", old.out);
}

int main(int argc, char **argv)
{
	const char *ext = getenv("RUSTREDIS_EXT"), *redis = getenv("RUSTREDIS_TEST_REDIS");
	if (argc != 2 || !ext || !*ext || !redis || !*redis) {
		fprintf(stderr, "usage: RUSTREDIS_EXT=... RUSTREDIS_TEST_REDIS=tcp://... %s request.php\n", argv[0]);
		return 2;
	}
	script = argv[1];
	static char ini[2048];
	snprintf(ini, sizeof ini,
		"html_errors=0\nregister_argc_argv=1\nimplicit_flush=1\noutput_buffering=0\n"
		"max_execution_time=0\nmax_input_time=-1\ndisplay_errors=1\nlog_errors=0\nerror_reporting=-1\n"
		"extension=\"%s\"\nsession.save_handler=rustredis\n"
		"session.save_path=\"%s?prefix=zts_embed_%d_%ld:\"\n"
		"session.use_cookies=0\nsession.cache_limiter=\nsession.gc_probability=0\n",
		ext, redis, (int) getpid(), (long) time(NULL));

	/* What php_embed_init() does, with our own INI (it would hard-code its own) and no request on
	 * the main thread: the way FrankenPHP starts PHP. */
	signal(SIGPIPE, SIG_IGN);
	php_tsrm_startup();
	zend_signal_startup();
	php_embed_module.ub_write = capture_write;
	php_embed_module.flush = capture_flush;
	sapi_startup(&php_embed_module); /* clears ini_entries */
	php_embed_module.ini_entries = ini;
	php_embed_module.php_ini_ignore = 1;
	php_embed_module.executable_location = argv[0];
	if (php_embed_module.startup(&php_embed_module) == FAILURE) {
		fprintf(stderr, "php_module_startup failed\n");
		return 2;
	}

	job_t info = {.argv = {NULL, "info"}};
	check(strcmp(on_thread(&info), "zts=1 rustredis=1 handler=rustredis\n") == 0,
		"ZTS PHP, rustredis loaded, session.save_handler=rustredis", "%s", info.out);
	increments(5, 4, 1, "20");
	read_and_close_while_locked();
	regenerate();
	increments(8, 10, 0, "0");

	php_module_shutdown();
	sapi_shutdown();
	tsrm_shutdown();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

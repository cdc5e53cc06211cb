<?php
// The CLI half of scripts/demo.sh (which starts Redis, php-fpm and nginx and sets RR_HTTP_PORT):
// per handler, one session fires N parallel AJAX requests that each wait on a slow back end and
// write one key; prints the wall time, a waterfall of the requests and whether a write was lost.
//
//   php scripts/demo.php [N] [MS]      (defaults 10 and 300)

declare(strict_types=1);
require __DIR__ . '/demo-lib.php';

const SCALE_MS = 50; // one waterfall column

$port = (int) rr_env('RR_HTTP_PORT');
$n = max(1, min(50, (int) ($argv[1] ?? 10)));
$ms = max(0, min(2000, (int) ($argv[2] ?? 300)));

function waterfall_row(array $request): string
{
    if (!$request['ok'] && !isset($request['phases'])) {
        return sprintf(" #%-2d  failed: %s\n", $request['i'], $request['error']);
    }
    $line = '';
    foreach ($request['phases'] as [$from, $to, $kind]) {
        $a = (int) round($from * 1000 / SCALE_MS);
        $b = max($a + 1, (int) round($to * 1000 / SCALE_MS));
        $line = str_pad($line, $a, ' ');
        $line = substr($line, 0, $a) . str_repeat($kind === 'wait' ? '.' : '=', $b - $a);
    }
    return sprintf(
        " #%-2d %5d-%5d ms |%s%s\n",
        $request['i'],
        $request['start'] * 1000,
        $request['end'] * 1000,
        $line,
        $request['ok'] ? '' : '  <- write not saved (warning or false)'
    );
}

printf("One session, %d parallel AJAX requests, each %d ms of back-end work and one session write.\n", $n, $ms);
printf("Waterfall: '.' waiting for the session, '=' working with it; one column = %d ms.\n", SCALE_MS);
$summary = [];
foreach (rr_demo_runs() as [$config, $pattern, $what]) {
    $run = rr_parallel_ajax($port, $config, $pattern, $n, $ms);
    printf("\n== %s\n", $what);
    foreach ($run['requests'] as $request) {
        echo waterfall_row($request);
    }
    $verdict = $run['lost'] === 0 ? 'no write lost'
        : "{$run['lost']} WRITE(S) LOST ({$run['refused']} reported to the request, {$run['silent']} silently)";
    printf(" total %.2f s; writes kept %d/%d; %s\n", $run['wall'], $run['kept'], $n, $verdict);
    foreach (array_slice(array_unique($run['warnings']), 0, 3) as $warning) {
        echo "   warning $warning\n";
    }
    $summary[] = [$what, $run];
}

echo "\nSummary\n";
printf(" %-8s %-6s %-5s %-7s %s\n", 'wall', 'kept', 'lost', 'silent', 'handler');
foreach ($summary as [$what, $run]) {
    printf(" %-8s %-6s %-5d %-7d %s\n", sprintf('%.2f s', $run['wall']), "{$run['kept']}/$n", $run['lost'], $run['silent'], $what);
}
echo " lost: writes not in the session afterwards; silent: lost without a warning or false return.\n";

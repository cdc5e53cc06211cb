<?php
// Section 10 of the benchmark (included by bench.php): large sessions and compression. µs per CLI
// session cycle (session_start, change, session_write_close, as section 2, pinned like it) of a
// session holding 100 KB, 1 MB or 5 MB of text, rustredis locked against phpredis without
// locking, and the same session read with read_and_close; and a realistic 100 KB shop cart (product rows of repeated fields) with
// rustredis.compression none, lz4 and zstd: µs per cycle and the bytes Redis stores.

declare(strict_types=1);

function sizes_bench(array $opt, callable $base_label): array
{
    // "rr-locked+zstd" / "bytes:100000": the configuration's label, the compression, the size.
    $label = function (string $config, string $pattern) use ($base_label): string {
        [$name, $compression] = explode('+', $config, 2) + [1 => null];
        return $base_label($name) . ($compression ? ", compression=$compression" : '') . ", $pattern";
    };
    $out = ['sizes' => [], 'compression' => []];
    // Fewer cycles for larger sessions: each round of a case takes well under a second or two.
    $cycles = [100_000 => max(50, intdiv($opt['cycles'], 4)), 1_000_000 => 40, 5_000_000 => 10];
    foreach ($cycles as $bytes => $n) {
        $cases = [['rr-locked', "bytes:$bytes"], ['phpredis-off', "bytes:$bytes"],
            ['rr-locked', "rac-bytes:$bytes"], ['phpredis-off', "rac-bytes:$bytes"]];
        $rows = cycle_rounds($cases, 'sz', ['cycles' => $n] + $opt, $label);
        $out['sizes'][] = ['bytes' => $bytes, 'cycles' => $n, 'rows' => $rows];
    }
    $cases = [['rr-locked', 'cart:100000'], ['rr-locked+lz4', 'cart:100000'], ['rr-locked+zstd', 'cart:100000']];
    $rows = cycle_rounds($cases, 'cz', ['cycles' => max(50, intdiv($opt['cycles'], 4))] + $opt, $label);
    foreach ($rows as &$row) {
        // The bytes stored: one more cycle on a session of its own, then STRLEN of its key.
        $sid = rr_new_session_id('cs');
        run_cycles($row['config'], 'cart:100000', $sid, 1, 1, 60);
        $row['stored_bytes'] = (int) redis_cmd('STRLEN', "PHPREDIS_SESSION:$sid");
        say(sprintf('   %-45s %d bytes stored', $label($row['config'], $row['pattern']), $row['stored_bytes']));
    }
    unset($row);
    $out['compression'] = $rows;
    return $out;
}

--TEST--
Optimistic mode: two requests change different keys of a session holding a Serializable object whose payload refers back into the session; the later one gets a whole-session conflict, and the object still unserializes
--FILE--
<?php
require __DIR__ . '/common.inc';

// A userland Serializable (C: encoding; ArrayObject and SplObjectStorage use O: since PHP 7.4):
// the serialize() inside serialize() shares the session's value numbering, so a payload holding
// an object stored elsewhere in the session refers to it as `r:N;`. PHP 8.1+ deprecates
// Serializable without __serialize() as the class is declared: the children mute E_DEPRECATED.
$box = '
    class Box implements Serializable {
        public $items;
        public function __construct($items) { $this->items = $items; }
        public function serialize(): string { return serialize($this->items); }
        public function unserialize(string $data): void { $this->items = unserialize($data); }
    }';

function check(string $serializer, string $box): void {
    $ini = ['rustredis.locking' => 'optimistic', 'session.serialize_handler' => $serializer,
            'error_reporting' => (string)(E_ALL & ~E_DEPRECATED)];
    $id = trim(rr_wait(rr_spawn($box . ' session_start();
        $o = new stdClass;
        $_SESSION["shared"] = $o;
        $_SESSION["box"] = new Box([$o]);
        $_SESSION["x"] = 1;
        echo session_id(); session_write_close();', $ini)));
    $request = fn(string $name, string $change) => rr_spawn($box . '
        $warnings = [];
        set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
        session_id(' . var_export($id, true) . ');
        session_start();
        // Both read before either writes; "theirs" writes first.
        rr_cmd("INCR", rr_key("read-' . $serializer . '"));
        rr_wait_for_count("read-' . $serializer . '", 2);
        ' . $change . '
        session_write_close();
        echo ' . var_export($name, true) . ', ": ", $warnings ? implode(" | ", $warnings) : "written", "\n";', $ini);
    // Theirs changes `x` only.
    $theirs = $request('theirs', '$_SESSION["x"] = 2;');
    // Mine stores a new object in `n` and a new Box of both: `box` moves behind `n`, and its
    // payload names `n` by its number. Merged key by key into theirs, `box` would come before `n`
    // and PHP would read its items as false.
    $mine = $request('mine', 'rr_wait_for_key("theirs-written-' . $serializer . '");
        $p = new stdClass;
        $p->p = 1;
        $_SESSION["n"] = $p;
        unset($_SESSION["box"]);
        $_SESSION["box"] = new Box([$_SESSION["shared"], $p]);');
    $out = rr_wait($theirs);
    rr_cmd('SET', rr_key("theirs-written-$serializer"), '1');
    $out .= rr_wait($mine);
    echo preg_replace('/(write conflict on the whole session).*key by key \((.*)\); kept.*/', '$1 ($2)', $out);
    echo rr_wait(rr_spawn($box . '
        $notices = [];
        set_error_handler(function ($no, $message) use (&$notices) { $notices[] = $message; return true; });
        session_id(' . var_export($id, true) . '); session_start(["read_and_close" => true]);
        echo "keys: ", implode(",", array_keys($_SESSION)), ", x=", $_SESSION["x"], "\n";
        $box = $_SESSION["box"];
        echo "box items: ", is_array($box->items) ? count($box->items) : var_export($box->items, true), "\n";
        echo "items[0] is shared: ", var_export(($box->items[0] ?? null) === $_SESSION["shared"], true), "\n";
        echo "notices: ", $notices ? implode(" | ", $notices) : "none", "\n";', $ini));
}

foreach (['php', 'php_serialize'] as $serializer) {
    echo "-- $serializer\n";
    check($serializer, $box);
}
?>
--EXPECT--
-- php
theirs: written
mine: session_write_close(): rustredis: write conflict on the whole session (session data contains an object of a class implementing Serializable (`C:` encoding), whose payload may refer to other session values)
keys: shared,box,x, x=2
box items: 1
items[0] is shared: true
notices: none
-- php_serialize
theirs: written
mine: session_write_close(): rustredis: write conflict on the whole session (session data contains an object of a class implementing Serializable (`C:` encoding), whose payload may refer to other session values)
keys: shared,box,x, x=2
box items: 1
items[0] is shared: true
notices: none

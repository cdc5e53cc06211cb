//! A model of PHP values and of PHP 8.2's `serialize()`, for tests: it produces the bytes PHP
//! would write, independently of the parser in `codec`.
//! Used by the codec and merge tests as an oracle; compiled only for tests.

use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq)]
pub enum PhpKey {
    Int(i64),
    Str(Vec<u8>),
}

#[derive(Debug, Clone)]
pub enum PhpValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Vec<u8>),
    Array(Vec<(PhpKey, PhpValue)>),
    /// A plain object; `__serialize()` objects look the same and may have integer keys.
    Object {
        class: String,
        properties: Vec<(PhpKey, PhpValue)>,
    },
    /// An object implementing `Serializable`, with its opaque payload.
    Serializable {
        class: String,
        payload: Vec<u8>,
    },
    /// An enum case, `Class:Case`.
    Enum(String),
}

pub fn serialize(value: &PhpValue) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

pub fn serialize_key(key: &PhpKey) -> Vec<u8> {
    let mut out = Vec::new();
    write_key(&mut out, key);
    out
}

/// What the `php` serializer writes for these (name, value) pairs.
pub fn php_session(entries: &[(Vec<u8>, PhpValue)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in entries {
        out.extend_from_slice(name);
        out.push(b'|');
        write_value(&mut out, value);
    }
    out
}

/// What the `php_serialize` serializer writes: `serialize($_SESSION)`.
pub fn php_serialize_session(entries: &[(PhpKey, PhpValue)]) -> Vec<u8> {
    serialize(&PhpValue::Array(entries.to_vec()))
}

fn write_key(out: &mut Vec<u8>, key: &PhpKey) {
    match key {
        PhpKey::Int(number) => out.extend_from_slice(format!("i:{number};").as_bytes()),
        PhpKey::Str(bytes) => write_string(out, b's', bytes, b";"),
    }
}

fn write_string(out: &mut Vec<u8>, tag: u8, bytes: &[u8], terminator: &[u8]) {
    out.push(tag);
    out.extend_from_slice(format!(":{}:\"", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
    out.push(b'"');
    out.extend_from_slice(terminator);
}

fn write_members(out: &mut Vec<u8>, members: &[(PhpKey, PhpValue)]) {
    out.extend_from_slice(format!("{}:{{", members.len()).as_bytes());
    for (key, value) in members {
        write_key(out, key);
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, value: &PhpValue) {
    match value {
        PhpValue::Null => out.extend_from_slice(b"N;"),
        PhpValue::Bool(flag) => out.extend_from_slice(if *flag { b"b:1;" } else { b"b:0;" }),
        PhpValue::Int(number) => out.extend_from_slice(format!("i:{number};").as_bytes()),
        PhpValue::Float(number) => {
            out.extend_from_slice(format!("d:{};", php_float(*number)).as_bytes())
        }
        PhpValue::Str(bytes) => write_string(out, b's', bytes, b";"),
        PhpValue::Array(members) => {
            out.extend_from_slice(b"a:");
            write_members(out, members);
        }
        PhpValue::Object { class, properties } => {
            write_string(out, b'O', class.as_bytes(), b":");
            write_members(out, properties);
        }
        PhpValue::Serializable { class, payload } => {
            write_string(out, b'C', class.as_bytes(), b":");
            out.extend_from_slice(format!("{}:{{", payload.len()).as_bytes());
            out.extend_from_slice(payload);
            out.push(b'}');
        }
        PhpValue::Enum(case) => write_string(out, b'E', case.as_bytes(), b";"),
    }
}

/// PHP's float formatting for `serialize()` with `serialize_precision = -1`: the shortest
/// round-trip digits, laid out by `zend_gcvt` with 17 as the exponent threshold.
pub fn php_float(number: f64) -> String {
    if number.is_nan() {
        return "NAN".into();
    }
    if number.is_infinite() {
        return if number > 0.0 { "INF" } else { "-INF" }.into();
    }
    let sign = if number.is_sign_negative() { "-" } else { "" };
    if number == 0.0 {
        return format!("{sign}0");
    }
    let scientific = format!("{:e}", number.abs());
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` has an `e`");
    let digits = mantissa.replace('.', "");
    // Position of the decimal point relative to the digits, as zend_dtoa reports it.
    let decimal_point = exponent.parse::<i32>().expect("integer exponent") + 1;
    let body = if !(-3..=17).contains(&decimal_point) {
        let exponent = decimal_point - 1;
        let fraction = if digits.len() > 1 { &digits[1..] } else { "0" };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{}.{fraction}E{exponent_sign}{}",
            &digits[..1],
            exponent.abs()
        )
    } else if decimal_point <= 0 {
        format!(
            "0.{}{digits}",
            "0".repeat(decimal_point.unsigned_abs() as usize)
        )
    } else {
        let integer_len = decimal_point as usize;
        if digits.len() <= integer_len {
            format!("{digits}{}", "0".repeat(integer_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..integer_len], &digits[integer_len..])
        }
    };
    format!("{sign}{body}")
}

/// Bytes biased towards the ones that matter to the grammar.
pub fn tricky_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"|\";:{}R1rN\0\\".to_vec()),
    ];
    prop::collection::vec(byte, 0..max_len)
}

fn class_name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}(\\\\[A-Za-z_][A-Za-z0-9_]{0,8})?"
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::sample::select(vec![
            0.1,
            0.5,
            -0.0,
            1e25,
            1e15,
            1e17,
            1e18,
            0.0001,
            0.00001,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]),
    ]
}

pub fn key() -> BoxedStrategy<PhpKey> {
    prop_oneof![
        any::<i64>().prop_map(PhpKey::Int),
        tricky_bytes(8).prop_map(PhpKey::Str),
    ]
    .boxed()
}

fn scalar() -> BoxedStrategy<PhpValue> {
    prop_oneof![
        Just(PhpValue::Null),
        any::<bool>().prop_map(PhpValue::Bool),
        any::<i64>().prop_map(PhpValue::Int),
        float().prop_map(PhpValue::Float),
        tricky_bytes(16).prop_map(PhpValue::Str),
        (class_name(), class_name())
            .prop_map(|(class, case)| PhpValue::Enum(format!("{class}:{case}"))),
    ]
    .boxed()
}

/// Arrays and objects of `leaf` values, a few levels deep.
fn tree(leaf: BoxedStrategy<PhpValue>) -> BoxedStrategy<PhpValue> {
    leaf.prop_recursive(4, 48, 5, |inner| {
        let members = prop::collection::vec((key(), inner), 0..5);
        prop_oneof![
            members.clone().prop_map(PhpValue::Array),
            (class_name(), members)
                .prop_map(|(class, properties)| PhpValue::Object { class, properties }),
        ]
    })
    .boxed()
}

/// Any value but a `Serializable` object: the values whose sessions `codec` splits into keys.
pub fn value() -> impl Strategy<Value = PhpValue> {
    tree(scalar())
}

/// Any value, `Serializable` objects (see [`serializable`]) included.
pub fn value_or_serializable() -> impl Strategy<Value = PhpValue> {
    tree(prop_oneof![4 => scalar(), 1 => serializable()].boxed())
}

/// A value that holds a `Serializable` object: one, or an array or object with one among its
/// members.
pub fn holding_serializable() -> impl Strategy<Value = PhpValue> {
    let members = prop::collection::vec((key(), value_or_serializable()), 0..3);
    prop_oneof![
        serializable(),
        (
            serializable(),
            key(),
            members,
            prop::option::of(class_name())
        )
            .prop_map(|(object, key, mut members, class)| {
                members.insert(0, (key, object));
                let members = dedup_by_key(members);
                match class {
                    Some(class) => PhpValue::Object {
                        class,
                        properties: members,
                    },
                    None => PhpValue::Array(members),
                }
            }),
    ]
}

/// An object of a class implementing `Serializable`. Its payload is whatever the class's
/// serialize() returned: often serialized values, which (written by a nested `serialize()`
/// sharing the session's numbering) may include back-references `r:N;`/`R:N;` to any value of
/// the session, as ArrayObject and SplObjectStorage payloads did before PHP 7.4.
pub fn serializable() -> BoxedStrategy<PhpValue> {
    let fragment = prop_oneof![
        tricky_bytes(8),
        (1..12usize).prop_map(|number| format!("r:{number};").into_bytes()),
        (1..12usize).prop_map(|number| format!("R:{number};").into_bytes()),
        scalar().prop_map(|value| serialize(&value)),
    ];
    (class_name(), prop::collection::vec(fragment, 0..4))
        .prop_map(|(class, fragments)| PhpValue::Serializable {
            class,
            payload: fragments.concat(),
        })
        .boxed()
}

/// Whether `value` is or holds a `Serializable` object.
pub fn contains_serializable(value: &PhpValue) -> bool {
    match value {
        PhpValue::Serializable { .. } => true,
        PhpValue::Array(members)
        | PhpValue::Object {
            properties: members,
            ..
        } => members
            .iter()
            .any(|(_, member)| contains_serializable(member)),
        _ => false,
    }
}

/// A `php`-serializer variable name: any bytes but `|`.
pub fn php_name() -> impl Strategy<Value = Vec<u8>> {
    tricky_bytes(8).prop_map(|name| name.into_iter().filter(|&byte| byte != b'|').collect())
}

/// Keeps the first occurrence of each key, as a PHP array would hold only one.
pub fn dedup_by_key<K: PartialEq, V>(entries: Vec<(K, V)>) -> Vec<(K, V)> {
    let mut unique: Vec<(K, V)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        if !unique.iter().any(|(seen, _)| *seen == key) {
            unique.push((key, value));
        }
    }
    unique
}

/// `php`-serializer sessions of [`value`]s.
pub fn php_entries() -> impl Strategy<Value = Vec<(Vec<u8>, PhpValue)>> {
    prop::collection::vec((php_name(), value()), 0..6).prop_map(dedup_by_key)
}

/// `php_serialize`-serializer sessions of [`value`]s.
pub fn php_serialize_entries() -> impl Strategy<Value = Vec<(PhpKey, PhpValue)>> {
    prop::collection::vec((key(), value()), 0..6).prop_map(dedup_by_key)
}

//! The reader against the `toml` crate (a dev-dependency), and the spans and
//! paths its errors carry.

use super::*;
use serde::Deserialize;

/// A value without spans, to compare with the reference's.
#[derive(Debug, PartialEq)]
enum Plain {
    String(String),
    Integer(i64),
    /// Bits, so that NaN equals NaN.
    Float(u64),
    Boolean(bool),
    Array(Vec<Plain>),
    Table(Vec<(String, Plain)>),
}

fn plain(value: &Value) -> Plain {
    match &value.kind {
        Kind::String(s) => Plain::String(s.clone()),
        Kind::Integer(n) => Plain::Integer(*n),
        Kind::Float(x) => Plain::Float(float_bits(*x)),
        Kind::Boolean(b) => Plain::Boolean(*b),
        Kind::Array(a) => Plain::Array(a.iter().map(plain).collect()),
        Kind::Table(t) => Plain::Table(t.iter().map(|(k, v)| (k.clone(), plain(v))).collect()),
    }
}

fn reference_plain(value: &::toml::Value) -> Plain {
    match value {
        ::toml::Value::String(s) => Plain::String(s.clone()),
        ::toml::Value::Integer(n) => Plain::Integer(*n),
        ::toml::Value::Float(x) => Plain::Float(float_bits(*x)),
        ::toml::Value::Boolean(b) => Plain::Boolean(*b),
        ::toml::Value::Datetime(d) => Plain::String(format!("datetime {d}")),
        ::toml::Value::Array(a) => Plain::Array(a.iter().map(reference_plain).collect()),
        ::toml::Value::Table(t) => Plain::Table(t.iter().map(|(k, v)| (k.clone(), reference_plain(v))).collect()),
    }
}

fn float_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else {
        x.to_bits()
    }
}

fn ours(text: &str) -> Result<Plain, ParseError> {
    parse(text).map(|t| plain(&Value { kind: Kind::Table(t), span: 0..0 }))
}

fn reference(text: &str) -> Result<Plain, String> {
    text.parse::<::toml::Table>().map(|t| reference_plain(&::toml::Value::Table(t))).map_err(|e| e.to_string())
}

/// Documents both readers accept, with the same values.
const VALID: &[&str] = &[
    "",
    "# only a comment\n\n",
    "a = 1\nb = -2\nc = +3\nd = 1_000\ne = 0\nf = -0\n",
    "hex = 0xDEAD_beef\noct = 0o755\nbin = 0b1101\nmax = 9223372036854775807\nmin = -9223372036854775808\n",
    "a = 1.5\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 6.626e-34\ng = 224_617.445_991\nh = 0.0\n",
    "a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\n",
    "t = true\nf = false\n",
    r#"s = "tab\there \"quoted\" back\\slash \u00e9 \U0001F600 \b\f\r\n""#,
    "s = 'C:\\Users\\nodejs\\templates'\nq = '<\\i\\c*\\s*>'\n",
    "s = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n",
    "s = \"\"\"\\\n  The quick \\\n\n  brown fox.\\\n  \"\"\"\n",
    "s = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\nt = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n",
    "s = '''\nThe first newline is\ntrimmed in raw strings.\n'''\nt = ''''That,' she said, 'is still pointless.''''\n",
    "s = \"\"\"a\r\nb\"\"\"\r\nt = 1\r\n",
    "[table]\nkey = \"value\"\n[table.sub]\nk = 1\n",
    "[ a . b . c ]\nx = 1\n[a]\ny = 2\n",
    "[x.y.z.w]\n[x]\n",
    "name.first = \"Tom\"\nname.\"last\" = 'Preston-Werner'\n\"quoted key\" = 1\n'' = 2\n",
    "[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n",
    "a = [1, 2, 3]\nb = [\"x\", 'y']\nc = [[1, 2], [\"mixed\", 1.5]]\nd = []\ne = [\n  1, # one\n  2,\n]\n",
    "point = { x = 1, y = 2 }\nnested = { a = { b = { c = 1 } }, d.e = 2 }\nempty = {}\n",
    "[[products]]\nname = \"Hammer\"\n[[products]]\n[[products]]\nname = \"Nail\"\n",
    "[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\n[[fruits.varieties]]\nname = \"red delicious\"\n[[fruits]]\nname = \"banana\"\n",
    "a = [{ x = 1 }, { x = 2, y = [true] }]\n",
    // TOML 1.1, which the reference (toml 0.9) reads and so do we.
    "a = { b = 1,\n  # comment\n  c = 2,\n}\nesc = \"\\e \\x41\"\n",
    "1234 = 'digits as a key'\ntrue = 1\n-dash_ = 2\n",
    // Dotted keys may pass through a table only named by a header, which a header may then define.
    "[a.b.c]\n[a]\nb.x.y = 1\n[a.b]\n",
    "a = { b\n  = 1 }\n",
    "\u{feff}a = 1\n",
    "a = \"é ü 中文 🚀\" # comment with ünïcode\n",
    "[sinks.up]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/\"\nbatch = { max_events = 5000, max_bytes = \"4MiB\", linger = \"50ms\" }\n",
];

/// Documents both readers refuse.
const INVALID: &[&str] = &[
    "a",
    "a =",
    "= 1",
    "a = 1 b = 2",
    "a = 1\na = 2",
    "a.b = 1\na.b = 2",
    "a = 1\na.b = 2",
    "[a]\n[a]",
    "[a]\nb = 1\n[a.b]",
    "a.b = 1\n[a]",
    "[fruit]\napple.color = 'red'\n[fruit.apple]",
    "[a.b.c]\nz = 9\n[a]\nb.c.t = 1",
    "a = {}\n[a]",
    "a = {}\na.b = 1",
    "a = [1]\n[[a]]",
    "[[a]]\n[a]",
    "[a]\n[[a]]",
    "a = { b = 1,, }",
    "a = { b\n.c = 1 }",
    "a = { b.\nc = 1 }",
    "a = { b. # comment\n c = 1 }",
    "[a.b.c]\n[a]\nb.x.y = 1\n[a.b.x]",
    "[a.b.c]\n[a]\nb.c.y = 1",
    "[a.b]\n[a]\nb.c = 1",
    "a = { , }",
    "a = 1e400",
    "a = { b = 1, b = 2 }",
    "a = [1 2]",
    "a = [,]",
    "a = [1,,2]",
    "a = 01",
    "a = 1__0",
    "a = _1",
    "a = 1_",
    "a = +0x1",
    "a = 0x",
    "a = 0xG",
    "a = 0b12",
    "a = 1.",
    "a = .5",
    "a = 1e",
    "a = 1.e5",
    "a = 9223372036854775808",
    "a = \"unterminated",
    "a = \"new\nline\"",
    "a = 'unterminated",
    "a = \"\"\"never closed",
    "a = '''never closed",
    "a = \"bad \\q escape\"",
    "a = \"\\uD800\"",
    "a = \"\\u12\"",
    "a = \"ctrl \u{1}\"",
    "a = 'ctrl \u{7f}'",
    "# ctrl \u{1} in a comment",
    "a = 1\r",
    "a = 1 # comment\rb = 2",
    "[a",
    "[a]]",
    "[[a]",
    "[]",
    "a = tru",
    "a = True",
    "\"\"\"key\"\"\" = 1",
    "a = 1979-05-27",
    "a = 07:32:00",
    "a = 1979-05-27T07:32:00Z",
];

#[test]
fn valid_documents_read_as_the_reference_reads_them() {
    for text in VALID {
        let expected = reference(text).unwrap_or_else(|e| panic!("the reference refuses {text:?}: {e}"));
        assert_eq!(ours(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn invalid_documents_are_refused_as_the_reference_refuses_them() {
    for text in INVALID {
        assert!(ours(text).is_err(), "accepted {text:?}: {:?}", ours(text));
        if !text.contains("1979") && !text.contains("07:32") {
            assert!(reference(text).is_err(), "the reference accepts {text:?}: our corpus is wrong");
        }
    }
}

#[test]
fn date_times_are_refused_with_a_reason() -> Result<(), String> {
    let e = parse("a = 1\nwhen = 1979-05-27T07:32:00Z\n").err().ok_or("accepted a date-time")?;
    assert!(e.message.contains("date and time values are not supported"), "{}", e.message);
    assert_eq!(e.span.start, "a = 1\nwhen = ".len());
    Ok(())
}

#[test]
fn nesting_is_bounded_and_reported() -> Result<(), String> {
    let deep = format!("a = {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = parse(&deep).err().ok_or("accepted 10,000 nested arrays")?;
    assert_eq!(e.message, parse::TOO_DEEP);
    let long_key = format!("{} = 1", vec!["k"; 1_000].join("."));
    assert_eq!(parse(&long_key).map_err(|e| e.message), Err(parse::TOO_DEEP.to_string()));
    // Limits add up: 64 inline tables each opened by a 64-part dotted key stay within 64.
    let dotted = vec!["k"; 64].join(".");
    let multiplied = format!("a = {}1{}", format!("{{ {dotted} = ").repeat(64), " }".repeat(64));
    assert_eq!(parse(&multiplied).map_err(|e| e.message), Err(parse::TOO_DEEP.to_string()));
    let header = format!("[{}]\n{} = 1\n", vec!["h"; 40].join("."), vec!["k"; 30].join("."));
    assert_eq!(parse(&header).map_err(|e| e.message), Err(parse::TOO_DEEP.to_string()));
    let fine = format!("a = {}{}", "[".repeat(63), "]".repeat(63));
    assert!(parse(&fine).is_ok());
    Ok(())
}

#[test]
fn errors_point_at_the_offending_bytes() -> Result<(), String> {
    let text = "[a]\nx = 1\n\n[b]\ny = [1, 2\nz = 3\n";
    let e = parse(text).err().ok_or("accepted an unclosed array")?;
    assert_eq!(&text[e.span.start..e.span.start + 1], "z", "{e:?}");
    let text = "[a]\nx = 1\n[a]\n";
    let e = parse(text).err().ok_or("accepted a table defined twice")?;
    assert_eq!((e.message.as_str(), e.span.start), ("`a` is defined twice", 11));
    Ok(())
}

#[test]
fn error_spans_stay_inside_the_text_and_on_character_boundaries() {
    for text in ["a = \"\\é\"", "a = \"\\u12", "a = \"\\U0001F60", "é = 1", "a = 1 é", "a = [1 é]", "[é]"] {
        match parse(text) {
            Ok(t) => panic!("accepted {text:?}: {t:?}"),
            Err(e) => assert!(text.get(e.span.clone()).is_some(), "{text:?}: span {:?} of {:?}", e.span, e.message),
        }
    }
}

#[test]
fn values_and_tables_keep_their_spans() -> Result<(), ParseError> {
    let text = "top = 'x'\n[sinks.up]\nurl = \"http://h/\"\nbatch = { max_events = 10 }\n";
    let doc = parse(text)?;
    let at = |v: &Value| text[v.span.clone()].to_string();
    assert_eq!(at(&doc["top"]), "'x'");
    let sinks = doc["sinks"].as_table().cloned().unwrap_or_default();
    let up = &sinks["up"];
    assert_eq!(at(up), "[sinks.up]");
    let up = up.as_table().cloned().unwrap_or_default();
    assert_eq!(at(&up["url"]), "\"http://h/\"");
    assert_eq!(at(&up["batch"]), "{ max_events = 10 }");
    Ok(())
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Sink {
    url: String,
    #[serde(default)]
    retries: Option<u16>,
    #[serde(default)]
    batch: Batch,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Batch {
    max_events: Option<u32>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Fast,
    Safe,
}

fn sink(text: &str) -> Result<Sink, (String, String, String)> {
    let doc = parse(text).map_err(|e| (e.message, String::new(), String::new()))?;
    from_table(&doc).map_err(|e| {
        let at = e.span().map(|s| text[s].to_string()).unwrap_or_default();
        (e.message().to_string(), e.path(), at)
    })
}

#[test]
fn deserializes_structs_options_enums_sequences_and_numbers() {
    let text = "url = 'u'\nretries = 3\nbatch = { max_events = 7 }\ntags = ['a', \"b\"]\nmode = 'safe'\nratio = 1\n";
    let expected = Sink {
        url: "u".into(),
        retries: Some(3),
        batch: Batch { max_events: Some(7) },
        tags: vec!["a".into(), "b".into()],
        mode: Some(Mode::Safe),
        ratio: Some(1.0),
    };
    assert_eq!(sink(text), Ok(expected));
}

#[test]
fn errors_carry_the_key_path_and_the_value_span() {
    let cases: &[(&str, &str, &str, &str)] = &[
        ("url = 'u'\ncolour = 'blue'\n", "unknown field `colour`", "colour", "'blue'"),
        ("url = 'u'\nretries = 70000\n", "invalid value: integer `70000`", "retries", "70000"),
        ("url = 'u'\nbatch = { max_events = 'many' }\n", "invalid type: string \"many\"", "batch.max_events", "'many'"),
        ("url = 'u'\nbatch = { lingr = '1s' }\n", "unknown field `lingr`", "batch.lingr", "'1s'"),
        ("url = 'u'\ntags = ['a', 2]\n", "invalid type: integer `2`", "tags[1]", "2"),
        ("url = 'u'\nmode = 'slow'\n", "unknown variant `slow`", "mode", "'slow'"),
        ("url = 1\n", "invalid type: integer `1`, expected a string", "url", "1"),
        ("retries = 1\n", "missing field `url`", "", ""),
    ];
    for (text, message, path, at) in cases {
        match sink(text) {
            Ok(s) => panic!("{text:?} gave {s:?}"),
            Err((m, p, a)) => {
                assert!(m.starts_with(message), "{text:?}: {m}");
                assert_eq!((p.as_str(), a.as_str()), (*path, *at), "{text:?}: {m}");
            }
        }
    }
}

#[derive(Debug, Deserialize, PartialEq)]
struct Wrapped(Batch);

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Limit {
    Events(u32),
    Unlimited,
}

#[test]
fn newtype_structs_and_enum_variants_with_data() -> Result<(), String> {
    let doc = parse("max_events = 3\n").map_err(|e| e.message)?;
    assert_eq!(from_table::<Wrapped>(&doc), Ok(Wrapped(Batch { max_events: Some(3) })));
    let doc = parse("a = 'unlimited'\nb = { events = 5 }\nc = { events = 'many' }\n").map_err(|e| e.message)?;
    assert_eq!(from_value::<Limit>(&doc["a"]), Ok(Limit::Unlimited));
    assert_eq!(from_value::<Limit>(&doc["b"]), Ok(Limit::Events(5)));
    let e = from_value::<Limit>(&doc["c"]).err().ok_or("accepted a string as u32")?;
    assert_eq!(e.path(), "events", "{}", e.message());
    Ok(())
}

#[test]
fn written_tables_compare_by_content_not_place() -> Result<(), ParseError> {
    let written = |text: &str| -> Result<Written, ParseError> {
        let doc = parse(text)?;
        let table = doc.get("s").and_then(Value::as_table).cloned().unwrap_or_default();
        Ok(Written::new(table))
    };
    let base = written("[s]\na = 1\nb = [\"x\", { c = nan }]\n")?;
    let cases = [
        ("moved and reordered", "\n\n[s]\nb = [\"x\", { c = nan }]\na = 1\n", true),
        ("inline", "s = { a = 1, b = [\"x\", { c = nan }] }\n", true),
        ("a value changed", "[s]\na = 2\nb = [\"x\", { c = nan }]\n", false),
        ("a nested value changed", "[s]\na = 1\nb = [\"x\", { c = 1.0 }]\n", false),
        ("a key added", "[s]\na = 1\nb = [\"x\", { c = nan }]\nd = true\n", false),
        ("a type changed", "[s]\na = \"1\"\nb = [\"x\", { c = nan }]\n", false),
    ];
    for (what, text, same) in cases {
        assert_eq!(written(text)? == base, same, "{what}");
    }
    Ok(())
}

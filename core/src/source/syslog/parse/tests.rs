use super::*;

const NOW: u64 = 1_764_670_000_000; // 2025-12-02T10:06:40Z

fn header<'a>(p: &'a Parsed, name: &str) -> Option<&'a str> {
    p.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
}

fn body(m: &[u8], p: &Parsed, keep: KeepFields) -> String {
    match p.body(m, keep) {
        Body::Part(r) => String::from_utf8_lossy(&m[r]).into_owned(),
        Body::Joined(v) => String::from_utf8_lossy(&v).into_owned(),
    }
}

/// (message, Facility, Severity, timestamp, host, status, body)
type Row =
    (&'static str, &'static str, &'static str, Option<u64>, Option<&'static str>, Option<&'static str>, &'static str);

#[test]
fn messages_parse_as_flume_parses_them() {
    let rows: &[Row] = &[
        (
            "<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg",
            "1",
            "2",
            Some(1_334_286_671_000),
            Some("ubuntu-11.cloudera.com"),
            None,
            "some msg",
        ),
        ("<10>1 2012-04-13T11:11:11 h some msg", "1", "2", Some(1_334_315_471_000), Some("h"), None, "some msg"),
        ("<10>1 - h some msg", "1", "2", None, Some("h"), None, "some msg"),
        ("<10>1 2012-04-13T11:11:11Z - some msg", "1", "2", Some(1_334_315_471_000), None, None, "some msg"),
        ("<1>- - blah blam foo", "0", "1", None, None, None, "blah blam foo"),
        (
            "<34>1 Oct 11 22:14:15 mymachine su: 'su root' failed",
            "4",
            "2",
            Some(1_760_220_855_000),
            Some("mymachine"),
            None,
            "su: 'su root' failed",
        ),
        ("<167> Mar  7 04:51:12 host app: hi", "20", "7", Some(1_741_323_072_000), Some("host"), None, "app: hi"),
        ("<10>Good good good data", "1", "2", None, None, None, "<10>Good good good data"),
        ("<13>Nov 25 18:10:47 app[42]: hi", "1", "5", None, None, None, "<13>Nov 25 18:10:47 app[42]: hi"),
        ("<999>x", "124", "7", None, None, None, "<999>x"),
        ("<10F> bad bad data", "0", "0", None, None, Some("Invalid"), "<10F> bad bad data"),
        ("hi guys! <10> bad bad data", "0", "0", None, None, Some("Invalid"), "hi guys! <10> bad bad data"),
        ("<> bad bad data", "0", "0", None, None, Some("Invalid"), "<> bad bad data"),
        ("<1231> bad", "0", "0", None, None, Some("Invalid"), "<1231> bad"),
        ("<10>1 2012-13-45T11:11:11Z h msg", "1", "2", None, Some("h"), None, "msg"),
        (
            "<10>1 2012-04-13T11:11:11.1234567Z h msg",
            "1",
            "2",
            None,
            None,
            None,
            "<10>1 2012-04-13T11:11:11.1234567Z h msg",
        ),
        (
            "<10>1 2012-04-13T11:11:11Z h ",
            "1",
            "2",
            Some(1_334_315_471_000),
            Some("h"),
            None,
            "<10>1 2012-04-13T11:11:11Z h ",
        ),
    ];
    for (m, facility, severity, ts, host, status, want) in rows {
        let p = parse_at(m.as_bytes(), false, Charset::Utf8, NOW);
        let ts = ts.map(|t| t.to_string());
        let got = (header(&p, "Facility"), header(&p, "Severity"), header(&p, "timestamp"), header(&p, "host"));
        assert_eq!(got, (Some(*facility), Some(*severity), ts.as_deref(), *host), "{m}");
        assert_eq!(header(&p, "flume.syslog.status"), *status, "{m}");
        assert_eq!(p.invalid, status.is_some(), "{m}");
        assert_eq!(body(m.as_bytes(), &p, KeepFields::default()), *want, "{m}");
    }
}

#[test]
fn priority_and_version_headers_when_a_pattern_matched() {
    let p = parse_at(b"<10>1 - h msg", false, Charset::Utf8, NOW);
    assert_eq!((header(&p, "priority"), header(&p, "version")), (Some("10"), Some("1")));
    let p = parse_at(b"<10>- h msg", false, Charset::Utf8, NOW);
    assert_eq!((header(&p, "priority"), header(&p, "version")), (Some("10"), None));
    let p = parse_at(b"<10>no pattern", false, Charset::Utf8, NOW);
    assert_eq!(header(&p, "priority"), None);
}

#[test]
fn bytes_that_are_not_utf8_are_invalid_and_kept_raw() {
    let m = b"<10>2012-08-17T02:14:00-07:00 192.168.1.110 \xfe\xff\xc0\xc1";
    let p = parse_at(m, false, Charset::Utf8, NOW);
    assert!(p.invalid);
    assert_eq!((header(&p, "Facility"), header(&p, "Severity")), (Some("0"), Some("0")));
    assert_eq!(p.body(m, KeepFields::default()), Body::Part(0..m.len()));
    // The same bytes from a sender in ISO-8859-1 (Flume's multiport test, "þÿÀÁ").
    let p = parse_at(m, false, Charset::Latin1, NOW);
    assert!(!p.invalid);
    assert_eq!(header(&p, "host"), Some("192.168.1.110"));
    assert_eq!(p.body(m, KeepFields::default()), Body::Part(m.len() - 4..m.len()));
}

#[test]
fn keep_fields_put_the_named_fields_back_in_front() {
    let m = b"<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg\n";
    let p = parse_at(m, false, Charset::Utf8, NOW);
    let keep = |w: &str| KeepFields::from_words(w).unwrap_or_default();
    // Flume's TestSyslogUtils.testKeepFields.
    let table = [
        ("none", "some msg"),
        ("hostname", "ubuntu-11.cloudera.com some msg"),
        ("timestamp hostname", "2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg"),
        ("priority timestamp hostname", "<10>2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg"),
        ("priority version timestamp hostname", "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg"),
        ("all", "<10>1 2012-04-13T11:11:11+08:00 ubuntu-11.cloudera.com some msg"),
    ];
    for (words, want) in table {
        assert_eq!(body(m, &p, keep(words)), want, "{words}");
    }
}

#[test]
fn a_cut_message_is_incomplete_unless_invalid() {
    let p = parse_at(b"<10> bad b", true, Charset::Utf8, NOW);
    assert_eq!(header(&p, "flume.syslog.status"), Some("Incomplete"));
    assert_eq!((header(&p, "Facility"), header(&p, "Severity")), (Some("1"), Some("2")));
    let p = parse_at(b"ad data ba", true, Charset::Utf8, NOW);
    assert_eq!(header(&p, "flume.syslog.status"), Some("Invalid"));
}

#[test]
fn a_multi_line_message_still_parses() {
    let m = b"<13>1 2026-11-25T18:10:47Z h app - - - line one\n\tat line two";
    let p = parse_at(m, false, Charset::Utf8, NOW);
    assert_eq!(body(m, &p, KeepFields::default()), "app - - - line one\n\tat line two");
}

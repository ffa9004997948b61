"""Writes syslog_cases.json and http_cases.json: Flume's test cases as data
(inputs and the results Flume's tests assert), for tests/flume_cases.rs."""
import json, os, datetime as d
here = os.path.dirname(os.path.abspath(__file__))
U = d.timezone.utc
def ms(s):
    return str(int(round(d.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)))
H = "ubuntu-11.cloudera.com"
rows = []
def row(src, send, headers, body, **kw):
    r = {"from": src, "send": send, "headers": headers, "body": body}
    r.update(kw)
    rows.append(r)
def ok(pri, ts=None, host=None, version=None):
    h = {"Facility": str(pri // 8), "Severity": str(pri % 8), "priority": str(pri)}
    if version: h["version"] = version
    if ts: h["timestamp"] = ts
    if host: h["host"] = host
    return h
def raw(pri):
    return {"Facility": str(pri // 8), "Severity": str(pri % 8)}
INVALID = {"Facility": "0", "Severity": "0", "flume.syslog.status": "Invalid"}
U1 = "TestSyslogUtils#"
row(U1+"TestHeader0", f"<10>2012-04-13T11:11:11+08:00 {H} some msg", ok(10, ms("2012-04-13T03:11:11Z"), H), "some msg",
    note="RFC 3339 stamp without the version digit")
row(U1+"TestHeader1", f"<10>1 2012-04-13T11:11:11 {H} some msg", ok(10, ms("2012-04-13T11:11:11Z"), H, "1"), "some msg",
    note="no zone: UTC (Flume: the JVM's zone)")
row(U1+"TestHeader2", f"<10>1 2012-04-13T11:11:11Z {H} some msg", ok(10, ms("2012-04-13T11:11:11Z"), H, "1"), "some msg")
row(U1+"TestHeader3", f"<10>1 2012-04-13T11:11:11+08:00 {H} some msg", ok(10, ms("2012-04-13T03:11:11Z"), H, "1"), "some msg")
row(U1+"TestHeader4", f"<10>1 - {H} some msg", ok(10, None, H, "1"), "some msg")
row(U1+"TestHeader5", "<10>1 2012-04-13T11:11:11 - some msg", ok(10, ms("2012-04-13T11:11:11Z"), None, "1"), "some msg")
row(U1+"TestHeader6", "<10>1 2012-04-13T11:11:11Z - some msg", ok(10, ms("2012-04-13T11:11:11Z"), None, "1"), "some msg")
row(U1+"TestHeader7", "<10>1 2012-04-13T11:11:11+08:00 - some msg", ok(10, ms("2012-04-13T03:11:11Z"), None, "1"), "some msg")
row(U1+"TestHeader8", f"<10>1 2012-04-13T11:11:11.999 {H} some msg", ok(10, ms("2012-04-13T11:11:11.999Z"), H, "1"), "some msg")
row(U1+"TestHeader9", f"<10>{{bsd:0}} {H} some msg", ok(10, "{bsd:0}", H), "some msg")
row(U1+"TestHeader11", f"<10>2014-10-03T17:20:01.123456-07:00 {H} some msg", ok(10, ms("2014-10-04T00:20:01.123Z"), H), "some msg",
    note="follows SyslogParser: the offset counts (SyslogUtils drops it when the stamp has a fraction)")
row(U1+"TestRfc3164HeaderApacheLogWithNulls", f"<10>{{bsd:0}} {H} - hyphen_null_breaks_5424_pattern [07/Jun/2012:14:46:44 -0600]",
    ok(10, "{bsd:0}", H), "- hyphen_null_breaks_5424_pattern [07/Jun/2012:14:46:44 -0600]")
for days in (-300, -200, -100, -30, 25):
    row(U1+f"TestRfc3164Dates ({days:+} days)", f"<10>{{bsd:{days}}} {H} some msg", ok(10, f"{{bsd:{days}}}", H), "some msg",
        note="the year of a year-less date: 11 months back to 1 month ahead")
row(U1+"testExtractBadEvent1", "<10F> bad bad data", INVALID, "<10F> bad bad data")
row(U1+"testExtractBadEvent2", "hi guys! <10> bad bad data", INVALID, "hi guys! <10> bad bad data")
row(U1+"testExtractBadEvent3", "<> bad bad data", INVALID, "<> bad bad data")
row(U1+"testExtractBadEvent4", "<123123123123123123123123123123> bad bad data", INVALID, "<123123123123123123123123123123> bad bad data")
row(U1+"testExtractGoodEvent", "<10>Good good good data", raw(10), "<10>Good good good data",
    note="no pattern matches: the whole message, <PRI> included, no status")
row(U1+"testGoodEventGoodEvent", "<20>Good really good data", raw(20), "<20>Good really good data")
row(U1+"testExtractBadEventLarge", "<10> " + "bad bad data " * 8, dict(raw(10), **{"flume.syslog.status": "Incomplete"}),
    ("<10> " + "bad bad data " * 8)[:64], source="max_message_size = \"64B\"",
    note="Flume cuts at eventSize (10 there; Sluice's least is 64B)")
keep_msg = f"<10>1 2012-04-13T11:11:11+08:00 {H} some msg"
for keep, body in [("none", "some msg"), ("false", "some msg"), ("hostname", f"{H} some msg"),
                   ("timestamp hostname", f"2012-04-13T11:11:11+08:00 {H} some msg"),
                   ("priority timestamp hostname", f"<10>2012-04-13T11:11:11+08:00 {H} some msg"),
                   ("priority version timestamp hostname", keep_msg), ("all", keep_msg), ("true", keep_msg)]:
    row(U1+f"testKeepFields ({keep})", keep_msg, ok(10, ms("2012-04-13T03:11:11Z"), H, "1"), body, source=f"keep_fields = \"{keep}\"")
P = "TestSyslogParser#testMessageParsing"
msgs = [
    ("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8", ok(34, "*", "mymachine"), "su: 'su root' failed for lonvick on /dev/pts/8"),
    ("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!", ok(13, "*", "10.0.0.99"), "Use the BFG!"),
    ("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%",
     ok(165, "*", "CST"), "1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%"),
    ("<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!",
     ok(0, "*", "scapegoat"), "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's All Folks!"),
    ("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8",
     ok(34, ms("2003-10-11T22:14:15.003Z"), "mymachine.example.com", "1"), "su - ID47 - BOM'su root' failed for lonvick on /dev/pts/8"),
    ("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
     ok(165, ms("2003-08-24T12:14:15Z"), "192.0.2.1", "1"), "myproc 8710 - - %% It's time to make the do-nuts."),
    ("<13>2003-08-24T05:14:15Z localhost snarf?", ok(13, ms("2003-08-24T05:14:15Z"), "localhost"), "snarf?"),
    ("<13>2012-08-16T14:34:03-08:00 127.0.0.1 test shnap!", ok(13, ms("2012-08-16T22:34:03Z"), "127.0.0.1"), "test shnap!"),
]
for i, (m, h, b) in enumerate(msgs):
    row(P + f" [{i}]", m, h, b)
    row(P + f" [{i}] keepFields all", m, h, m, source="keep_fields = true")
M = "TestMultiportSyslogTCPSource#"
row(M+"testMultiplePorts", "<10>2026-12-02T19:55:00.123Z localhost.localdomain proc1 - some msg 7",
    ok(10, ms("2026-12-02T19:55:00.123Z"), "localhost.localdomain"), "proc1 - some msg 7")
row(M+"testFragmented", "<1>- - blah blam foo", ok(1), "blah blam foo", note="nil stamp and host: the dashes go")
hdr = "<10>2012-08-11T01:01:01Z localhost "
for name, text in [("en", "Yarf yarf yarf"), ("es", "¿Cómo estás?"), ("fr", "Comment êtes-vous?")]:
    row(M+f"testCharsetParsing ({name}, UTF-8)", hdr + text, ok(10, ms("2012-08-11T01:01:01Z"), "localhost"), text)
    row(M+f"testCharsetParsing ({name}, ISO-8859-1)", hdr + text, ok(10, ms("2012-08-11T01:01:01Z"), "localhost"), text,
        source="charset = \"latin1\"", latin1=True)
row(M+"testCharsetParsing (bad UTF-8)", hdr + "Yarf yarf ya\u00fe\u00ff", INVALID, hdr + "Yarf yarf ya\u00fe\u00ff", latin1=True,
    note="not UTF-8: Invalid, the raw bytes kept")
h2 = "<10>2012-08-17T02:14:00-07:00 192.168.1.110 "
row(M+"testPortCharsetHandling (ISO-8859-1 port)", h2 + "þÿÀÁ", ok(10, ms("2012-08-17T09:14:00Z"), "192.168.1.110"), "þÿÀÁ",
    source="charset = \"latin1\"", latin1=True)
row(M+"testPortCharsetHandling (ISO-8859-1 on a UTF-8 port)", h2 + "þÿÀÁ", INVALID, h2 + "þÿÀÁ", latin1=True)
row(M+"testPortCharsetHandling (UTF-8 port)", h2 + "þÿÀÁ", ok(10, ms("2012-08-17T09:14:00Z"), "192.168.1.110"), "þÿÀÁ")
T = "TestSyslogTcpSource/TestSyslogUdpSource#runKeepFieldsTest"
st = "2026-12-02T19:55:00.123Z"
tandh = f"<10>{st} localhost.localdomain test syslog data"
for keep, body in [("true", tandh), ("all", tandh), ("false", "test syslog data"), ("none", "test syslog data"),
                   ("hostname", "localhost.localdomain test syslog data"), ("timestamp", f"{st} test syslog data")]:
    row(T + f" ({keep})", tandh, ok(10, ms(st), "localhost.localdomain"), body, source=f"keep_fields = \"{keep}\"")
row("TestSyslogUdpSource#testLargePayload", "x" * 1000, INVALID, "x" * 1000, source="keep_fields = true",
    note="no <PRI>: Invalid, kept whole")
R = "rsyslog tests / devices"
row(R + ": space after PRI", "<167> Mar  7 04:51:12 host app: hi", ok(167, "*", "host"), "app: hi")
row(R + ": version digit before an RFC 3164 stamp", "<34>1 Oct 11 22:14:15 mymachine su: 'su root' failed",
    ok(34, "*", "mymachine", "1"), "su: 'su root' failed")
row(R + ": Cisco PIX", "<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: UDP request discarded from SERVER1/2741 to test_app:255.255.255.255/61601",
    ok(167, "*", "172.20.245.8"), "%PIX-7-710005: UDP request discarded from SERVER1/2741 to test_app:255.255.255.255/61601")
row(R + ": RFC 3164 without a host", "<13>Nov 25 18:10:47 app[42]: hi", raw(13), "<13>Nov 25 18:10:47 app[42]: hi",
    note="Flume's pattern needs a host: the whole message is the body")
row("SyslogUtils (START mode skips newlines): blank lines on TCP", "\n\r\n<13>1 - h after blank lines", ok(13, None, "h", "1"),
    "after blank lines", transport="tcp")
json.dump(rows, open(here + "/syslog_cases.json", "w"), indent=1, ensure_ascii=False)
print(len(rows))

# The http source against Flume's TestJSONHandler and TestHTTPSource: a request
# (content type, JSON text, the charset its bytes are in), the status Flume's
# test asserts, and the events stored.
http = []
def req(src, json_text, status, events, content_type="application/json", encoding="utf-8", note=None):
    r = {"from": src, "content_type": content_type, "json": json_text, "encoding": encoding, "status": status, "events": events}
    if note: r["note"] = note
    http.append(r)
two = '[{"headers":{"a": "b"},"body": "random_body"},{"headers":{"e": "f"},"body": "random_body2"}]'
two_ev = [{"headers": {"a": "b"}, "body": "random_body"}, {"headers": {"e": "f"}, "body": "random_body2"}]
J = "TestJSONHandler#"
req(J + "testMultipleEvents", two, 200, two_ev)
req(J + "testMultipleEventsUTF16", two, 200, two_ev, "application/json; charset=UTF-16", "utf-16",
    note="decoded; stored as UTF-8 (Flume re-encodes the body in UTF-16)")
req(J + "testMultipleEventsUTF32", two, 200, two_ev, "application/json; charset=UTF-32", "utf-32-be",
    note="decoded; stored as UTF-8 (Flume re-encodes the body in UTF-32)")
req(J + "testMultipleEventsUTF8", two, 200, two_ev, "application/json; charset=UTF-8")
req(J + "testEscapedJSON", '[{"headers":{"a": "b"}},{"headers":{"e": "f"},"body": "rand\\"om_body2"}]', 200,
    [{"headers": {"a": "b"}, "body": ""}, {"headers": {"e": "f"}, "body": 'rand"om_body2'}])
req(J + "testNoBody", '[{"headers" : {"a": "b"}},{"headers" : {"e": "f"},"body": "random_body2"}]', 200,
    [{"headers": {"a": "b"}, "body": ""}, {"headers": {"e": "f"}, "body": "random_body2"}])
req(J + "testSingleHTMLEvent", '[{"headers": {"a": "b"},"body": "<html><body>test</body></html>"}]', 200,
    [{"headers": {"a": "b"}, "body": "<html><body>test</body></html>"}])
req(J + "testSingleEvent", '[{"headers" : {"a": "b"},"body": "random_body"}]', 200, [{"headers": {"a": "b"}, "body": "random_body"}])
req(J + "testBadEvent", '{["a": "b"],"body": "random_body"}', 400, [])
req(J + "testError", '[{"headers" : {"a": "b"},"body": "random_body"}]', 400, [], "application/json; charset=ISO-8859-1", "latin-1",
    note="refused with the reason; Flume answers 500")
many = [{"headers": {"a": "b", "a2": "b2", "a3": "b3", "a4": "b4"}, "body": "random_body"},
        {"headers": {"e": "f", "e2": "f2", "e3": "f3", "e4": "f4", "e5": "f5"}, "body": "random_body2"},
        {"headers": {"q1": "b", "q2": "b2", "q3": "b3", "q4": "b4"}, "body": "random_bodyq"}]
req(J + "testMultipleLargeEvents", json.dumps(many), 200, many)
T = "TestHTTPSource#"
req(T + "testSimple", two, 200, two_ev)
req(T + "testSimpleUTF16", two, 200, two_ev, "application/json; charset=utf-16", "utf-16")
req(T + "testInvalid", '[{"a": "b",["d":"e"],"body": "random_body"},{"e": "f","body": "random_body2"}]', 400, [])
req(T + "testSingleEvent", '[{"headers" : {"a": "b"},"body": "random_body"}]', 200, [{"headers": {"a": "b"}, "body": "random_body"}])
# 1000 events: {"generate": n} stands for [{"headers":{"a":"<i>"},"body":"abab…"} for i < n], sent and expected.
for enc, ct in [("utf-8", "UTF-8"), ("utf-16", "UTF-16"), ("utf-32-be", "UTF-32")]:
    req(T + f"testBigBatchDeserialization{ct.replace('-', '')}", None, 200, {"generate": 1000}, f"application/json; charset={ct}", enc)
json.dump(http, open(here + "/http_cases.json", "w"), indent=1, ensure_ascii=False)
print(len(http))

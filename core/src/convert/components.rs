//! Flume component types mapped onto Sluice's, one function per kind.

use super::{bare_or_quoted, q, q_list, Cx, Document, Table};

/// Converts every channel, source, sink and sink group the agent lists.
pub(crate) fn convert_all(cx: &mut Cx<'_>, doc: &mut Document) {
    for name in unique(cx, "channels") {
        if let Some(table) = channel(cx, &name) {
            doc.channels.push((name, table));
        }
    }
    for name in unique(cx, "sources") {
        for (name, table) in source(cx, &name) {
            if doc.sources.iter().any(|(n, _)| *n == name) {
                cx.unsupported(&format!("sources.{name}"), "this name is taken by another converted source");
            } else {
                doc.sources.push((name, table));
            }
        }
    }
    let mut converted_sinks = Vec::new();
    for name in unique(cx, "sinks") {
        if let Some(table) = sink(cx, &name) {
            doc.sinks.push((name.clone(), table));
            converted_sinks.push(name);
        }
    }
    for name in unique(cx, "sinkgroups") {
        if let Some(table) = group(cx, &name, &converted_sinks) {
            doc.groups.push((name, table));
        }
    }
    if cx.get("configfilters").is_some() {
        cx.unsupported("configfilters", "config filters are not supported; write the values out");
    }
}

/// The names an agent list gives, each once (a repeat is noted and skipped).
fn unique(cx: &mut Cx<'_>, list: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in cx.list(list) {
        if names.contains(&name) {
            cx.note(&format!("{}.{list} names {name} twice; it is converted once", cx_agent(cx)));
        } else {
            names.push(name);
        }
    }
    names
}

fn kind(cx: &mut Cx<'_>, base: &str) -> String {
    cx.get(&format!("{base}.type")).unwrap_or_default()
}

pub(super) fn ms(value: &str) -> Option<String> {
    value.parse::<u64>().ok().map(|n| q(&format!("{n}ms")))
}

pub(super) fn int(value: &str) -> Option<String> {
    value.parse::<u64>().ok().map(|n| n.to_string())
}

pub(super) fn boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Copies `flume_key` into `key` with `convert`, or reports a bad value.
pub(super) fn carry(
    cx: &mut Cx<'_>,
    t: &mut Table,
    base: &str,
    flume_key: &str,
    key: &str,
    convert: fn(&str) -> Option<String>,
) {
    let rest = format!("{base}.{flume_key}");
    if let Some(v) = cx.get(&rest) {
        match convert(&v) {
            Some(value) => t.set(key, value),
            None => cx.unsupported(&rest, &format!("value {v:?} is not understood")),
        }
    }
}

fn channel(cx: &mut Cx<'_>, name: &str) -> Option<Table> {
    let base = format!("channels.{name}");
    let kind = kind(cx, &base);
    let mut t = Table::default();
    match kind.to_ascii_lowercase().as_str() {
        "memory" => {
            t.set("type", q("memory"));
            carry(cx, &mut t, &base, "capacity", "max_events", int);
            carry(cx, &mut t, &base, "byteCapacity", "max_bytes", |v| {
                v.parse::<u64>().ok().map(|n| q(&format!("{n}B")))
            });
            cx.drop_key(&format!("{base}.byteCapacityBufferPercentage"), "Sluice counts the bytes of events as stored");
        }
        "file" | "jdbc" | "spillablememory" | "org.apache.flume.channel.file.filechannel" => {
            t.set("type", q("sqlite"));
            if !kind.eq_ignore_ascii_case("file") {
                cx.note(&format!("{}.{base} ({kind}) becomes a durable sqlite channel", cx_agent(cx)));
            }
            carry(cx, &mut t, &base, "capacity", "max_events", int);
            for k in [
                "checkpointDir",
                "dataDirs",
                "useDualCheckpoints",
                "backupCheckpointDir",
                "maxFileSize",
                "minimumRequiredSpace",
                "checkpointInterval",
                "checkpointOnClose",
                "use-fast-replay",
                "use-log-replay-v1",
                "memoryCapacity",
                "overflowCapacity",
                "overflowTimeout",
                "byteCapacity",
                "byteCapacityBufferPercentage",
                "db.type",
                "driver.class",
                "connection.url",
                "sysprop.user.home",
            ] {
                cx.drop_key(&format!("{base}.{k}"), "every Sluice channel lives in <data_dir>/sluice.db");
            }
            for k in cx.children(&format!("{base}.encryption")) {
                cx.unsupported(&format!("{base}.encryption.{k}"), "channel encryption is not supported");
            }
        }
        _ => {
            cx.unsupported(&base, &format!("channel type {kind:?} has no Sluice equivalent"));
            return None;
        }
    }
    for k in ["transactionCapacity", "keep-alive", "write-timeout"] {
        cx.drop_key(&format!("{base}.{k}"), "Sluice transactions are sized by the components' batches");
    }
    Some(t)
}

fn listen(cx: &mut Cx<'_>, base: &str, host_key: &str) -> Option<String> {
    let host = cx.get(&format!("{base}.{host_key}")).unwrap_or_else(|| "0.0.0.0".into());
    let port = cx.get(&format!("{base}.port"))?;
    let host = match host.as_str() {
        "localhost" => "127.0.0.1".to_string(),
        h if h.parse::<std::net::Ipv4Addr>().is_ok() => host,
        h if h.parse::<std::net::Ipv6Addr>().is_ok() => format!("[{host}]"),
        _ => {
            cx.unsupported(&format!("{base}.{host_key}"), "Sluice binds to an IP address; give the host's address");
            "0.0.0.0".into()
        }
    };
    Some(q(&format!("{host}:{port}")))
}

fn source(cx: &mut Cx<'_>, name: &str) -> Vec<(String, Table)> {
    let base = format!("sources.{name}");
    let kind = kind(cx, &base);
    let mut t = Table::default();
    let lower = kind.to_ascii_lowercase();
    let mut extra: Vec<(String, Table)> = Vec::new();
    match lower.as_str() {
        "netcat" | "org.apache.flume.source.netcatsource" => {
            t.set("type", q("tcp"));
            if let Some(l) = listen(cx, &base, "bind") {
                t.set("listen", l);
            }
            carry(cx, &mut t, &base, "max-line-length", "max_line_length", |v| {
                v.parse::<u64>().ok().map(|n| q(&format!("{n}B")))
            });
            if cx.get(&format!("{base}.ack-every-event")).is_none_or(|v| v != "false") {
                cx.note(&format!("{}.{base}: Sluice's tcp source sends no OK acknowledgements", cx_agent(cx)));
            }
        }
        "syslogtcp" | "syslogudp" => {
            t.set("type", q("syslog"));
            t.set("protocol", q(if lower == "syslogtcp" { "tcp" } else { "udp" }));
            if let Some(l) = listen(cx, &base, "host") {
                t.set("listen", l);
            }
            syslog_common(cx, &base, &mut t);
        }
        "multiport_syslogtcp" => {
            let ports = cx.list(&format!("{base}.ports"));
            let host = cx.get(&format!("{base}.host")).unwrap_or_else(|| "0.0.0.0".into());
            carry(cx, &mut t, &base, "batchSize", "batch_size", int);
            for k in ["readBufferSize", "numProcessors"] {
                cx.drop_key(&format!("{base}.{k}"), "not needed by Sluice's syslog source");
            }
            carry(cx, &mut t, &base, "charset.default", "charset", |v| match v.to_ascii_uppercase().as_str() {
                "UTF-8" | "UTF8" => Some(q("utf8")),
                "ISO-8859-1" | "ISO8859_1" | "LATIN1" => Some(q("latin1")),
                _ => None,
            });
            syslog_common(cx, &base, &mut t);
            t.set("type", q("syslog"));
            t.set("protocol", q("tcp"));
            for (i, port) in ports.iter().enumerate() {
                let mut one = t.clone();
                one.set("listen", q(&format!("{host}:{port}")));
                if i > 0 {
                    extra.push((format!("{name}_{port}"), one));
                } else {
                    t = one;
                }
            }
            if ports.len() > 1 {
                cx.note(&format!("{}.{base}: one syslog source per port ({name}, {name}_<port>)", cx_agent(cx)));
            }
        }
        "exec" => {
            t.set("type", q("exec"));
            match cx.get(&format!("{base}.command")) {
                Some(c) => t.set("command", q(&c)),
                None => cx.unsupported(&base, "exec source without a command"),
            }
            if let Some(shell) = cx.get(&format!("{base}.shell")) {
                if !matches!(shell.as_str(), "/bin/sh -c" | "/bin/bash -c" | "bash -c" | "sh -c") {
                    cx.unsupported(&format!("{base}.shell"), "Sluice runs commands with /bin/sh -c only");
                }
            }
            // Flume's default is not to restart.
            let restart = cx.get(&format!("{base}.restart")).and_then(|v| boolean(&v)).unwrap_or(false);
            t.set("restart", restart.to_string());
            carry(cx, &mut t, &base, "restartThrottle", "restart_backoff", ms);
            carry(cx, &mut t, &base, "batchSize", "batch_size", int);
            carry(cx, &mut t, &base, "batchTimeout", "batch_timeout", ms);
            cx.drop_key(&format!("{base}.logStdErr"), "Sluice always logs the command's stderr");
            cx.drop_key(&format!("{base}.charset"), "lines are kept as bytes");
        }
        "http" | "org.apache.flume.source.http.httpsource" => {
            t.set("type", q("http"));
            if let Some(l) = listen(cx, &base, "bind") {
                t.set("listen", l);
            }
            if let Some(h) = cx.get(&format!("{base}.handler")) {
                if h != "org.apache.flume.source.http.JSONHandler" {
                    cx.unsupported(&format!("{base}.handler"), "only the JSON handler (flume_json) is supported");
                }
            }
        }
        "taildir" | "org.apache.flume.source.taildir.taildirsource" => {
            t.set("type", q("taildir"));
            taildir(cx, &base, &mut t);
        }
        _ => {
            let why = format!("source type {kind:?} has no Sluice equivalent");
            cx.unsupported(&base, &why);
            return Vec::new();
        }
    }
    let channels = cx.list(&format!("{base}.channels"));
    t.set("channels", q_list(&channels));
    selector(cx, &base, &mut t);
    interceptors(cx, &base, &mut t);
    for (_, other) in &mut extra {
        for key in ["channels", "selector", "interceptors"] {
            if let Some((_, v)) = t.0.iter().find(|(k, _)| k == key) {
                other.set(key, v.clone());
            }
        }
    }
    let mut out = vec![(name.to_string(), t)];
    out.extend(extra);
    out
}

fn cx_agent(cx: &Cx<'_>) -> String {
    cx.agent.clone()
}

fn syslog_common(cx: &mut Cx<'_>, base: &str, t: &mut Table) {
    carry(cx, t, base, "eventSize", "max_message_size", |v| v.parse::<u64>().ok().map(|n| q(&format!("{n}B"))));
    if let Some(keep) = cx.get(&format!("{base}.keepFields")) {
        match crate::source::syslog::keep::KeepFields::from_words(&keep) {
            Ok(fields) => t.set("keep_fields", fields.to_string()),
            Err(e) => cx.unsupported(&format!("{base}.keepFields"), &e),
        }
    }
}

fn taildir(cx: &mut Cx<'_>, base: &str, t: &mut Table) {
    let groups = cx.list(&format!("{base}.filegroups"));
    let mut paths = Vec::new();
    for g in &groups {
        let key = format!("{base}.filegroups.{g}");
        let Some(path) = cx.get(&key) else { continue };
        match regex_path_to_glob(&path) {
            Some(glob) => paths.push(glob),
            None => cx.unsupported(&key, &format!("file name regex of {path:?} has no glob equivalent")),
        }
    }
    t.set("paths", q_list(&paths));
    // Per-group headers become static interceptors when there is one group.
    for g in &groups {
        for k in cx.children(&format!("{base}.headers.{g}")) {
            let key = format!("{base}.headers.{g}.{k}");
            if groups.len() == 1 {
                if let Some(v) = cx.get(&key) {
                    let item = format!("{{ type = \"static\", key = {}, value = {} }}", q(&k), q(&v));
                    push_interceptor(t, item);
                }
            } else {
                cx.unsupported(&key, "headers per file group (with several groups) are not supported");
            }
        }
    }
    if cx.get(&format!("{base}.skipToEnd")).and_then(|v| boolean(&v)) == Some(true) {
        t.set("read_from", q("end"));
    }
    carry(cx, t, base, "idleTimeout", "idle_timeout", ms);
    carry(cx, t, base, "batchSize", "batch_size", int);
    carry(cx, t, base, "fileHeader", "file_header", |v| boolean(v).map(|b| b.to_string()));
    carry(cx, t, base, "fileHeaderKey", "file_header_key", |v| Some(q(v)));
    cx.drop_key(&format!("{base}.positionFile"), "read positions live in the SQLite store, written with the lines");
    cx.drop_key(&format!("{base}.writePosInterval"), "positions are saved with every batch");
    for k in ["maxBatchCount", "backoffSleepIncrement", "maxBackoffSleep", "cachePatternMatching"] {
        cx.drop_key(&format!("{base}.{k}"), "not needed by Sluice's taildir");
    }
    if cx.get(&format!("{base}.byteOffsetHeader")).and_then(|v| boolean(&v)) == Some(true) {
        cx.unsupported(&format!("{base}.byteOffsetHeader"), "the byte offset header is not supported");
    }
}

/// Flume's `/dir/regex-on-file-name` as a glob, when the regex is a simple one.
pub(crate) fn regex_path_to_glob(path: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/')?;
    let mut glob = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' if chars.peek() == Some(&'*') => {
                chars.next();
                glob.push('*');
            }
            '.' if chars.peek() == Some(&'+') => {
                chars.next();
                glob.push_str("?*");
            }
            '.' => glob.push('?'),
            '\\' => match chars.next()? {
                e @ ('.' | '-' | '_' | '[' | ']' | '(' | ')' | '+' | '{' | '}') => glob.push(e),
                _ => return None,
            },
            '^' if glob.is_empty() => {}
            '$' if chars.peek().is_none() => {}
            c if c.is_alphanumeric() || matches!(c, '-' | '_' | '@' | '%' | ',' | '=' | '~') => glob.push(c),
            _ => return None,
        }
    }
    (!glob.is_empty()).then(|| format!("{dir}/{glob}"))
}

fn push_interceptor(t: &mut Table, item: String) {
    let existing = t.0.iter().find(|(k, _)| k == "interceptors").map(|(_, v)| v.clone());
    let list = match existing {
        Some(v) => format!("{}, {item}]", v.trim_end_matches(']')),
        None => format!("[{item}]"),
    };
    t.set("interceptors", list);
}

fn selector(cx: &mut Cx<'_>, base: &str, t: &mut Table) {
    let sel = format!("{base}.selector");
    let kind = cx.get(&format!("{sel}.type")).unwrap_or_else(|| "replicating".into());
    match kind.to_ascii_lowercase().as_str() {
        "replicating" => {
            if cx.get(&format!("{sel}.optional")).is_some() {
                cx.unsupported(
                    &format!("{sel}.optional"),
                    "optional channels are not supported: every channel is required",
                );
            }
        }
        "multiplexing" => {
            let header = cx.get(&format!("{sel}.header")).unwrap_or_else(|| "flume.selector.header".into());
            let mut mapping = Vec::new();
            for value in cx.children(&format!("{sel}.mapping")) {
                let channels = cx.list(&format!("{sel}.mapping.{value}"));
                mapping.push(format!("{} = {}", bare_or_quoted(&value), q_list(&channels)));
            }
            let mut s =
                format!("{{ type = \"multiplexing\", header = {}, mapping = {{ {} }}", q(&header), mapping.join(", "));
            let default = cx.list(&format!("{sel}.default"));
            if !default.is_empty() {
                s.push_str(&format!(", default = {}", q_list(&default)));
            }
            s.push_str(" }");
            t.set("selector", s);
            for value in cx.children(&format!("{sel}.optional")) {
                cx.unsupported(&format!("{sel}.optional.{value}"), "optional channels are not supported");
            }
        }
        _ => cx.unsupported(&sel, &format!("selector {kind:?} is not supported")),
    }
}

fn interceptors(cx: &mut Cx<'_>, base: &str, t: &mut Table) {
    for name in cx.list(&format!("{base}.interceptors")) {
        let ib = format!("{base}.interceptors.{name}");
        let kind = cx.get(&format!("{ib}.type")).unwrap_or_default();
        let get = |cx: &mut Cx<'_>, k: &str| cx.get(&format!("{ib}.{k}"));
        let preserve = |cx: &mut Cx<'_>, default: bool| {
            let v = cx.get(&format!("{ib}.preserveExisting")).and_then(|v| boolean(&v)).unwrap_or(default);
            format!(", preserve_existing = {v}")
        };
        let item = match kind.to_ascii_lowercase().as_str() {
            "timestamp" => {
                let header = get(cx, "headerName").unwrap_or_else(|| "timestamp".into());
                format!("{{ type = \"timestamp\", header = {}{} }}", q(&header), preserve(cx, false))
            }
            "host" => {
                let header = get(cx, "hostHeader").unwrap_or_else(|| "host".into());
                if get(cx, "useIP").and_then(|v| boolean(&v)) != Some(false) {
                    cx.note(&format!(
                        "{}.{ib}: Sluice's host interceptor sets the host name, not the IP address",
                        cx_agent(cx)
                    ));
                }
                format!("{{ type = \"host\", header = {}{} }}", q(&header), preserve(cx, false))
            }
            "static" => {
                let key = get(cx, "key").unwrap_or_else(|| "key".into());
                let value = get(cx, "value").unwrap_or_else(|| "value".into());
                format!("{{ type = \"static\", key = {}, value = {}{} }}", q(&key), q(&value), preserve(cx, true))
            }
            "regex_filter" => {
                let pattern = get(cx, "regex").unwrap_or_else(|| ".*".into());
                let exclude = get(cx, "excludeEvents").and_then(|v| boolean(&v)).unwrap_or(false);
                format!("{{ type = \"regex_filter\", pattern = {}, exclude = {exclude} }}", q(&pattern))
            }
            "remove_header" => {
                let mut names: Vec<String> = get(cx, "withName").into_iter().collect();
                if let Some(list) = get(cx, "fromList") {
                    if get(cx, "fromListSeparator").is_some_and(|s| s != "\\s*,\\s*" && s != ",") {
                        cx.unsupported(&format!("{ib}.fromListSeparator"), "only comma-separated lists are supported");
                    }
                    names.extend(list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
                }
                if get(cx, "matching").is_some() {
                    cx.unsupported(&format!("{ib}.matching"), "removing headers by regex is not supported");
                }
                format!("{{ type = \"remove_header\", headers = {} }}", q_list(&names))
            }
            "org.apache.flume.sink.solr.morphline.uuidinterceptor$builder" => {
                let header = get(cx, "headerName").unwrap_or_else(|| "id".into());
                cx.drop_key(&format!("{ib}.preserveExisting"), "Sluice ids are assigned once, at ingest");
                cx.drop_key(&format!("{ib}.prefix"), "Sluice ids have no prefix");
                cx.note(&format!(
                    "{}.{ib}: every Sluice event has an id, shipped in header {header:?} when the sink's id_header says so (default \"id\")",
                    cx_agent(cx)
                ));
                continue;
            }
            _ => {
                cx.unsupported(&ib, &format!("interceptor {kind:?} has no Sluice equivalent"));
                continue;
            }
        };
        push_interceptor(t, item);
    }
}

fn sink(cx: &mut Cx<'_>, name: &str) -> Option<Table> {
    let base = format!("sinks.{name}");
    let kind = kind(cx, &base);
    let mut t = Table::default();
    match kind.to_ascii_lowercase().as_str() {
        "null" => t.set("type", q("null")),
        "logger" => {
            t.set("type", q("stdout"));
            cx.drop_key(&format!("{base}.maxBytesToLog"), "stdout prints whole bodies");
        }
        "file_roll" => {
            t.set("type", q("file"));
            carry(cx, &mut t, &base, "sink.directory", "directory", |v| Some(q(v)));
            carry(cx, &mut t, &base, "sink.rollInterval", "roll_interval", |v| {
                v.parse::<u64>().ok().map(|s| q(&format!("{s}s")))
            });
            carry(cx, &mut t, &base, "sink.pathManager.prefix", "prefix", |v| Some(q(v)));
            if let Some(s) = cx.get(&format!("{base}.sink.serializer")) {
                if !s.eq_ignore_ascii_case("text") {
                    cx.unsupported(
                        &format!("{base}.sink.serializer"),
                        "only the TEXT serializer (format = \"text\") is supported",
                    );
                }
            }
            carry(cx, &mut t, &base, "sink.batchSize", "batch", |v| {
                v.parse::<u64>().ok().map(|n| format!("{{ max_events = {n} }}"))
            });
        }
        "http" | "org.apache.flume.sink.http.httpsink" => {
            t.set("type", q("http"));
            carry(cx, &mut t, &base, "endpoint", "url", |v| Some(q(v)));
            carry(cx, &mut t, &base, "connectTimeout", "connect_timeout", ms);
            carry(cx, &mut t, &base, "requestTimeout", "request_timeout", ms);
            cx.unsupported(
                &format!("{base}.type"),
                "Flume's http sink posts each body alone; Sluice posts batches as flume_json (or ndjson): the receiver must accept that",
            );
            for k in ["contentTypeHeader", "acceptHeader"] {
                cx.drop_key(&format!("{base}.{k}"), "Sluice sets the content type of its format");
            }
            for k in cx.children(&base) {
                if [
                    "defaultBackoff",
                    "defaultRollback",
                    "defaultIncrementMetrics",
                    "backoff.",
                    "rollback.",
                    "incrementMetrics.",
                ]
                .iter()
                .any(|p| k.starts_with(p))
                {
                    cx.drop_key(&format!("{base}.{k}"), "Sluice classifies statuses itself (2xx commit; 408, 429, 5xx retry; 413 split; other 4xx quarantine)");
                }
            }
        }
        "avro" | "org.apache.flume.sink.avrosink" => super::avro_sink::avro_sink(cx, &base, &mut t)?,
        _ => {
            cx.unsupported(&base, &format!("sink type {kind:?} has no Sluice equivalent"));
            return None;
        }
    }
    if let Some(c) = cx.get(&format!("{base}.channel")) {
        t.set("channel", q(&c));
    }
    if t.0.iter().all(|(k, _)| k != "batch") {
        carry(cx, &mut t, &base, "batchSize", "batch", |v| {
            v.parse::<u64>().ok().map(|n| format!("{{ max_events = {n} }}"))
        });
    }
    Some(t)
}

fn group(cx: &mut Cx<'_>, name: &str, converted: &[String]) -> Option<Table> {
    let base = format!("sinkgroups.{name}");
    let mut sinks: Vec<String> = cx.list(&format!("{base}.sinks"));
    let missing: Vec<String> = sinks.iter().filter(|s| !converted.contains(s)).cloned().collect();
    sinks.retain(|s| converted.contains(s));
    if !missing.is_empty() {
        cx.note(&format!("{}.{base}: without the unconverted sinks {}", cx_agent(cx), missing.join(", ")));
    }
    let kind = cx.get(&format!("{base}.processor.type")).unwrap_or_else(|| "default".into());
    let mut t = Table::default();
    match kind.to_ascii_lowercase().as_str() {
        "default" => return None,
        "failover" => {
            // Higher priority first; unset priorities count as -1, -2, … in listed order (as Flume).
            let mut ranked: Vec<(i64, usize, String)> = Vec::new();
            for (i, s) in sinks.iter().enumerate() {
                let p = cx.get(&format!("{base}.processor.priority.{s}")).and_then(|v| v.parse().ok());
                ranked.push((p.unwrap_or(-(i as i64) - 1), i, s.clone()));
            }
            ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            sinks = ranked.into_iter().map(|r| r.2).collect();
            for k in cx.children(&format!("{base}.processor.priority")) {
                cx.consume(&format!("{base}.processor.priority.{k}"));
            }
            t.set("processor", q("failover"));
            carry(cx, &mut t, &base, "processor.maxpenalty", "max_penalty", ms);
        }
        "load_balance" => {
            t.set("processor", q("load_balance"));
            let selector = cx.get(&format!("{base}.processor.selector")).unwrap_or_else(|| "round_robin".into());
            match selector.to_ascii_lowercase().as_str() {
                "round_robin" | "random" => t.set("selector", q(&selector.to_ascii_lowercase())),
                _ => cx.unsupported(&format!("{base}.processor.selector"), "custom sink selectors are not supported"),
            }
            cx.drop_key(&format!("{base}.processor.backoff"), "Sluice always backs off a failed sink");
            carry(cx, &mut t, &base, "processor.selector.maxTimeOut", "max_penalty", ms);
        }
        _ => {
            cx.unsupported(&format!("{base}.processor.type"), &format!("processor {kind:?} is not supported"));
            return None;
        }
    }
    if sinks.len() < 2 {
        cx.note(&format!("{}.{base}: fewer than two sinks left; group dropped", cx_agent(cx)));
        return None;
    }
    t.0.insert(0, ("sinks".into(), q_list(&sinks)));
    Some(t)
}

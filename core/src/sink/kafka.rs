//! The `kafka` sink (cargo feature `kafka`, kept out of the mobile builds):
//! produce each batch to a topic with `acks=all`, gzip, the key from a header.
//!
//! Client: `rskafka` (InfluxData). Pure Rust, so it cross-compiles to the ARM
//! boards with nothing but cargo (librdkafka would need its C build and adds
//! about 3 MiB); it negotiates API versions, so it speaks to Kafka 3.x and 4.x
//! (which dropped the old Produce versions the unmaintained `kafka` crate
//! uses); it produces with `acks = -1`. Its cost is a tokio runtime, which this
//! sink alone pays for, on its own thread.
//!
//! Partitioning follows Kafka's Java default for keyed records
//! (`murmur2(key) % partitions`), so keys land where other producers put them;
//! unkeyed batches go round-robin, one partition a batch.

use super::{Batch, Outcome, Sink};
use crate::config::keys::Required;
use crate::config::ComponentConfig;
use crate::error::Result;
use crate::event::Event;
use crate::registry::{Host, SinkSettings};
use crate::units::Span;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use std::collections::BTreeMap;
use std::time::Duration;

crate::settings! {
    /// `[sinks.NAME]` keys of `type = "kafka"`.
    pub struct KafkaConfig {
        brokers: Required<Vec<String>> = Required::default(), "Bootstrap brokers, `host:port`.";
        topic: Required<String> = Required::default(),
            "Topic to produce to (it must exist: creating topics is not an edge agent's job).";
        key_header: Option<String> = None, "Header whose value is the record key (none: unkeyed).";
        compression: super::http::Compression = super::http::Compression::Gzip, "Record batch compression.";
        request_timeout: Span = Span(Duration::from_secs(30)), "Time for one batch, connect to acknowledgement.";
        client_id: String = "sluice".into(), "Kafka client id.";
        id_header: String = "id".into(), "Header that carries the event id (empty: none).";
    }
}

/// The `kafka` sink.
pub struct KafkaSink {
    runtime: tokio::runtime::Runtime,
    producer: Producer,
    timeout: Duration,
}

/// The async half: connection state and what to send.
struct Producer {
    brokers: Vec<String>,
    topic: String,
    client_id: String,
    key_header: Option<String>,
    id_header: String,
    compression: Compression,
    /// Connected client and one partition client per partition, by index.
    connected: Option<(Client, Vec<PartitionClient>)>,
    next_partition: usize,
}

impl KafkaConfig {
    /// The brokers and topic, checked.
    fn target(&self, c: &ComponentConfig) -> Result<(&[String], &str)> {
        let brokers = self.brokers.get().map_err(|m| c.error("brokers", m))?;
        if brokers.is_empty() || brokers.iter().any(|b| b.rsplit_once(':').is_none()) {
            return Err(c.error("brokers", "give at least one broker as \"host:port\""));
        }
        let topic = self.topic.get().map_err(|m| c.error("topic", m))?;
        if topic.is_empty() {
            return Err(c.error("topic", "the topic is empty"));
        }
        Ok((brokers, topic))
    }
}

impl SinkSettings for KafkaConfig {
    fn check(&self, c: &ComponentConfig, _: &Host) -> Result<()> {
        self.target(c).map(drop)
    }

    /// Starts the client's runtime; no connection is made until the first batch.
    fn build(&self, c: &ComponentConfig, _: &Host) -> Result<Box<dyn Sink>> {
        let (brokers, topic) = self.target(c)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| c.error("type", format!("cannot start the Kafka client runtime: {e}")))?;
        Ok(Box::new(KafkaSink {
            runtime,
            timeout: self.request_timeout.0,
            producer: Producer {
                brokers: brokers.to_vec(),
                topic: topic.to_string(),
                client_id: self.client_id.clone(),
                key_header: self.key_header.clone(),
                id_header: self.id_header.clone(),
                compression: match self.compression {
                    super::http::Compression::Gzip => Compression::Gzip,
                    super::http::Compression::None => Compression::NoCompression,
                },
                connected: None,
                next_partition: 0,
            },
        }))
    }
}

impl Producer {
    async fn connect(&mut self) -> std::result::Result<(), KafkaError> {
        if self.connected.is_some() {
            return Ok(());
        }
        let client = ClientBuilder::new(self.brokers.clone()).client_id(self.client_id.as_str()).build().await?;
        let topics = client.list_topics().await?;
        let Some(topic) = topics.into_iter().find(|t| t.name == self.topic) else {
            return Err(KafkaError::InvalidResponse(format!("topic {:?} does not exist", self.topic)));
        };
        let count = topic.partitions.len() as i32;
        let mut partitions = Vec::with_capacity(count as usize);
        for p in 0..count {
            partitions.push(client.partition_client(self.topic.as_str(), p, UnknownTopicHandling::Error).await?);
        }
        log::info!("kafka: connected; topic {} has {count} partitions", self.topic);
        self.connected = Some((client, partitions));
        Ok(())
    }

    fn record(&self, e: &Event) -> Record {
        let mut headers: BTreeMap<String, Vec<u8>> =
            e.headers.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
        if !self.id_header.is_empty() {
            headers.entry(self.id_header.clone()).or_insert_with(|| e.id.to_string().into_bytes());
        }
        let key = self.key_header.as_deref().and_then(|h| e.header(h)).map(|k| k.as_bytes().to_vec());
        let timestamp = rskafka::chrono::DateTime::from_timestamp_millis(e.timestamp_ms as i64).unwrap_or_default();
        Record { key, value: Some(e.body.clone()), headers, timestamp }
    }

    async fn produce(&mut self, events: &[Event]) -> std::result::Result<(), KafkaError> {
        self.connect().await?;
        let count = self.connected.as_ref().map_or(0, |(_, p)| p.len());
        if count == 0 {
            return Err(KafkaError::InvalidResponse(format!("topic {:?} has no partitions", self.topic)));
        }
        let unkeyed = self.next_partition % count;
        self.next_partition = self.next_partition.wrapping_add(1);
        let mut groups: Vec<Vec<Record>> = (0..count).map(|_| Vec::new()).collect();
        for e in events {
            let record = self.record(e);
            let p = record.key.as_deref().map_or(unkeyed, |k| (murmur2(k) & 0x7fff_ffff) as usize % count);
            groups[p].push(record);
        }
        let Some((_, partitions)) = &self.connected else { return Ok(()) };
        for (p, records) in groups.into_iter().enumerate() {
            if !records.is_empty() {
                partitions[p].produce(records, self.compression).await?;
            }
        }
        Ok(())
    }
}

impl Sink for KafkaSink {
    fn ship(&mut self, batch: &Batch<'_>) -> Outcome {
        let producer = &mut self.producer;
        let result =
            self.runtime.block_on(async { tokio::time::timeout(self.timeout, producer.produce(batch.events)).await });
        match result {
            Ok(Ok(())) => Outcome::Delivered,
            Ok(Err(e)) => {
                let outcome = classify(&e);
                if matches!(outcome, Outcome::Retry { .. }) {
                    self.producer.connected = None; // metadata may have moved: reconnect
                }
                outcome
            }
            Err(_) => {
                self.producer.connected = None;
                Outcome::Retry { after: None, reason: format!("kafka: no acknowledgement within {:?}", self.timeout) }
            }
        }
    }
}

/// Broker errors that resending cannot fix go to quarantine (too large: split);
/// everything else is retried.
fn classify(e: &KafkaError) -> Outcome {
    let reason = format!("kafka: {e}");
    match e {
        KafkaError::ServerError { protocol_error, .. } => match protocol_error {
            ProtocolError::MessageTooLarge | ProtocolError::RecordListTooLarge => Outcome::TooLarge,
            ProtocolError::InvalidRecord | ProtocolError::InvalidTimestamp => Outcome::Permanent { reason },
            _ => Outcome::Retry { after: None, reason },
        },
        _ => Outcome::Retry { after: None, reason },
    }
}

/// Kafka's murmur2 (the Java client's `Utils.murmur2`, seed 0x9747b28c).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Partitions the Java client picks (`Utils.toPositive(Utils.murmur2(key)) % n`),
    /// checked against the values Kafka's own tests use.
    #[test]
    fn murmur2_matches_kafkas() {
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32, -58897971);
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn too_large_splits_and_bad_records_quarantine() {
        let server = |p| KafkaError::ServerError {
            protocol_error: p,
            error_message: None,
            request: rskafka::client::error::RequestContext::Topic("t".into()),
            response: None,
            is_virtual: false,
        };
        assert_eq!(classify(&server(ProtocolError::MessageTooLarge)), Outcome::TooLarge);
        assert!(matches!(classify(&server(ProtocolError::InvalidRecord)), Outcome::Permanent { .. }));
        assert!(matches!(classify(&server(ProtocolError::NotLeaderOrFollower)), Outcome::Retry { .. }));
    }
}

"""Logs COUNT records through the OpenTelemetry Python SDK's batch processor
and OTLP/HTTP (protobuf) exporter to ENDPOINT, then flushes and exits.

    python emit.py ENDPOINT COUNT

Record i: time 1700000000000 + i ms, body "record i — ünï", severity WARN for odd i else INFO, attributes
seq=i (int), kind="emit" (str), ratio=i/4 (double), and an exception-free
logger name "sluice.interop"; resource service.name="py-emitter",
deployment.environment="ci". Exits 1 if the exporter reported a failure.
"""
import logging
import sys

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

failures = []


class Counting(logging.Handler):
    """Counts the exporter's own error logs: a refused batch is a failure."""

    def emit(self, record):
        if record.levelno >= logging.ERROR or "Failed to export" in record.getMessage():
            failures.append(record.getMessage())


def main():
    endpoint, count = sys.argv[1], int(sys.argv[2])
    logging.getLogger("opentelemetry").addHandler(Counting())
    resource = Resource.create({"service.name": "py-emitter", "deployment.environment": "ci"})
    provider = LoggerProvider(resource=resource)
    exporter = OTLPLogExporter(endpoint=endpoint, timeout=10)
    # The queue holds every record: the default (2048) drops what a burst adds beyond it.
    processor = BatchLogRecordProcessor(exporter, max_queue_size=count, max_export_batch_size=512)
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("sluice.interop", "1.0")
    for i in range(count):
        severity = (SeverityNumber.WARN, "WARN") if i % 2 else (SeverityNumber.INFO, "INFO")
        logger.emit(
            timestamp=1_700_000_000_000_000_000 + i * 1_000_000,
            body=f"record {i} — ünï",
            severity_number=severity[0],
            severity_text=severity[1],
            attributes={"seq": i, "kind": "emit", "ratio": i / 4},
        )
    ok = provider.force_flush(30_000)
    provider.shutdown()
    if not ok or failures:
        print(f"emit.py: flush ok={ok}, failures={failures[:3]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

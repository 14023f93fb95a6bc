"""Deliveries of provider data (DESIGN §3): validate every row, report the bad ones, upsert the good ones."""

from xinyidai.ingest.loader import DeliverySummary, ingest_file
from xinyidai.ingest.reading import DeliveryError
from xinyidai.ingest.sources import SOURCES

__all__ = ["SOURCES", "DeliveryError", "DeliverySummary", "ingest_file"]

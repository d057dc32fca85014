"""Operations: the product's Prometheus metrics (read from the records at scrape time)."""

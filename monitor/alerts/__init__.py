"""The alerts stage: route stories to receivers and deliver them through sinks."""

"""The rules stage: what the desk follows, matched against every item."""

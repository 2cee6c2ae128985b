"""Sources: schedule feeds, fetch them, parse and normalise their items."""

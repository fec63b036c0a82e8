"""The analytics app's writes: `trends` runs the trend model's Spark jobs and records them."""

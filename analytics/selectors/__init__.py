"""The read side, by subject: `engagement` (series, top lists, KPIs from the metric tables),
`health` (one rule per pipeline part), `trends` (model runs and prediction batches) and
`summary` (what the dashboard's tiles show)."""

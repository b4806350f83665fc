"""Speech to text for calls: engines, a shared worker pool, transcripts."""

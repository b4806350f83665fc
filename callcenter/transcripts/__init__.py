"""Call transcripts: segments stored with the call, searched, pushed live, summarised."""

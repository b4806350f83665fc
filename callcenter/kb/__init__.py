"""Knowledge base: articles and Q&A pairs, their import and export, and the hybrid
retrieval the bot and agents ask (docs/knowledge-base.md)."""

"""The chat bot: answers from the knowledge base, hands off to a person, learns what it
could not answer (docs/bot.md); and agents' canned responses."""

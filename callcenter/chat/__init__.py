"""Web chat: visitors, conversations, never-lost messages, routing to agents (docs/chat.md)."""

"""External messaging channels (WeChat official accounts, signed webhooks) as chats."""

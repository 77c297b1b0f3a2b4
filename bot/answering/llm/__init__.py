"""Optional LLM answers through any OpenAI-compatible server, held to the retrieved passages.

`prompt` writes the numbered passages and the conversation into chat messages, `client` sends them
(streamed, within the time-out, a capped number at once), `check` holds the reply to the passages
(citations, refusals, agreement with the reader) and `answerer` wraps the extractive reader so the
reader's short answer is always there, beside the LLM's sentence or instead of it. `result` holds the
plain dataclasses an `Answer` carries; importing this package does not import `openai`.
"""

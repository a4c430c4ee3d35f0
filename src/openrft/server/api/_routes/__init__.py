"""One thin router per OpenAI resource: parse, call one service method, return."""

"""mmcurate.pipeline.synthesis — instruction synthesis: conversations from a curated sample.

Facts about a sample (:mod:`.facts`), deterministic templates (:mod:`.templates`), LLM prompts
(:mod:`.llm_prompt`) sent through an OpenAI-compatible client (:mod:`.chat_client`), the conversation
format (:mod:`.conversation`) and the stage that ties them together (:mod:`.synthesize`). Nothing is
imported here, so a stage pickles cheaply.
"""

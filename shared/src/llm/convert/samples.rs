//! Recorded-style payloads of each provider (shapes as the providers document and send them),
//! shared by the converter and transcoder tests.

/// An OpenAI chat request with a system prompt, an image by URL and in base64, a tool, an
/// earlier tool call and its result, JSON schema output and reasoning effort.
pub(crate) const OPENAI_CHAT_REQUEST: &str = r#"{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": [
      {"type": "text", "text": "What is in these pictures, and the weather in Paris?"},
      {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]},
    {"role": "assistant", "content": null, "tool_calls": [
      {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    ]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": "{\"temp_c\":18}"}
  ],
  "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": ["string", "null"]}},
      "required": ["city"], "additionalProperties": false}, "strict": true}}],
  "tool_choice": "auto",
  "temperature": 0.2,
  "top_p": 0.9,
  "max_tokens": 512,
  "stop": ["END"],
  "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "strict": true,
    "schema": {"type": "object", "properties": {"text": {"type": "string"}}}}},
  "reasoning_effort": "high",
  "stream": true,
  "stream_options": {"include_usage": true}
}"#;

/// An Anthropic request: system blocks with cache control, a PDF document, thinking, a
/// tool_use/tool_result round with an error result, tool choice `any`.
pub(crate) const ANTHROPIC_REQUEST: &str = r#"{
  "model": "claude-sonnet-4-5-20250929",
  "max_tokens": 4096,
  "system": [{"type": "text", "text": "You are a careful analyst.", "cache_control": {"type": "ephemeral"}}],
  "messages": [
    {"role": "user", "content": [
      {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}, "title": "report.pdf"},
      {"type": "text", "text": "Summarise, then look up the stock."}
    ]},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "Need the ticker.", "signature": "EqQBCkgIARABGAIiQL"},
      {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_stock_price", "input": {"ticker": "ACME"}}
    ]},
    {"role": "user", "content": [
      {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": [{"type": "text", "text": "ticker not found"}], "is_error": true}
    ]}
  ],
  "tools": [
    {"name": "get_stock_price", "description": "Price of a stock", "input_schema": {"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]}},
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
  ],
  "tool_choice": {"type": "any"},
  "thinking": {"type": "enabled", "budget_tokens": 2048},
  "stop_sequences": ["\n\nHuman:"],
  "top_k": 40,
  "stream": false
}"#;

/// A Gemini request: system instruction, inline image, function call and response without
/// ids, function declarations, tool config, JSON output and thinking budget.
pub(crate) const GEMINI_REQUEST: &str = r#"{
  "systemInstruction": {"parts": [{"text": "Answer briefly."}]},
  "contents": [
    {"role": "user", "parts": [{"text": "Describe and find lights."}, {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}]},
    {"role": "model", "parts": [{"functionCall": {"name": "find_lights", "args": {"room": "kitchen"}}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "find_lights", "response": {"content": "2 lights"}}}]}
  ],
  "tools": [{"functionDeclarations": [{"name": "find_lights", "description": "Find lights",
    "parameters": {"type": "OBJECT", "properties": {"room": {"type": "STRING"}}, "required": ["room"]}}]}],
  "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["find_lights"]}},
  "generationConfig": {"temperature": 0.7, "topP": 0.95, "topK": 64, "maxOutputTokens": 1024,
    "stopSequences": ["STOP!"], "responseMimeType": "application/json",
    "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}}
}"#;

/// An OpenAI Responses request.
pub(crate) const RESPONSES_REQUEST: &str = r#"{
  "model": "gpt-5",
  "instructions": "Be terse.",
  "input": [
    {"role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}, {"type": "input_image", "image_url": "https://example.com/oslo.jpg"}]},
    {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"},
    {"type": "function_call_output", "call_id": "call_9", "output": "-3C"}
  ],
  "tools": [{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
  "tool_choice": {"type": "function", "name": "get_weather"},
  "max_output_tokens": 300,
  "reasoning": {"effort": "low"},
  "text": {"format": {"type": "json_object"}},
  "stream": true
}"#;

/// An OpenAI chat completion with reasoning text, a tool call and cached prompt tokens.
pub(crate) const OPENAI_CHAT_RESPONSE: &str = r#"{
  "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
  "object": "chat.completion",
  "created": 1741570283,
  "model": "gpt-4o-2024-08-06",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": "Checking.",
    "reasoning_content": "User wants weather.",
    "tool_calls": [{"id": "call_xyz", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    "logprobs": null, "finish_reason": "tool_calls"}],
  "usage": {"prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0}}
}"#;

/// An Anthropic message with thinking, text and a tool call; cache reads and writes.
pub(crate) const ANTHROPIC_RESPONSE: &str = r#"{
  "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
  "type": "message",
  "role": "assistant",
  "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "thinking", "thinking": "Let me check.", "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve"},
    {"type": "text", "text": "I'll look that up."},
    {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {"location": "San Francisco, CA"}}
  ],
  "stop_reason": "tool_use",
  "stop_sequence": null,
  "usage": {"input_tokens": 472, "cache_creation_input_tokens": 2048, "cache_read_input_tokens": 1800,
    "output_tokens": 89, "service_tier": "standard"}
}"#;

/// A Gemini answer with a thought, text and a function call.
pub(crate) const GEMINI_RESPONSE: &str = r#"{
  "candidates": [{"content": {"parts": [
      {"text": "Planning the call.", "thought": true},
      {"text": "Turning on the lights."},
      {"functionCall": {"name": "set_light", "args": {"on": true}}, "thoughtSignature": "CiIBVKhc"}
    ], "role": "model"}, "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 200,
    "cachedContentTokenCount": 64, "thoughtsTokenCount": 50,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}]},
  "modelVersion": "gemini-2.5-flash",
  "responseId": "mAitaJ-KFqDwmtkP1u3q-Ac"
}"#;

/// A Responses answer with a reasoning summary, a message and a function call.
pub(crate) const RESPONSES_RESPONSE: &str = r#"{
  "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
  "object": "response",
  "created_at": 1741476542,
  "status": "completed",
  "model": "gpt-5-2025-08-07",
  "output": [
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Thinking about Oslo."}]},
    {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
      "content": [{"type": "output_text", "text": "It is cold.", "annotations": []}]},
    {"type": "function_call", "id": "fc_2", "call_id": "call_2", "name": "get_weather", "arguments": "{\"city\":\"Oslo\"}", "status": "completed"}
  ],
  "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 87,
    "output_tokens_details": {"reasoning_tokens": 64}, "total_tokens": 123}
}"#;

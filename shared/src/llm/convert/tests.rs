//! Converter tests on the sample payloads: each format into the IR, and across formats.

use serde_json::{Value, json};

use super::samples::*;
use super::*;
use crate::llm::ir::{Effort, FinishReason, Media, Part, ResponseFormat, Role, ToolChoice};

fn ir(format: ApiFormat, body: &str) -> Request {
    request_to_ir(format, body.as_bytes(), None).unwrap()
}

fn convert(from: ApiFormat, to: ApiFormat, body: &str, model: &str) -> Value {
    let (_, out) = convert_request(from, to, body.as_bytes(), None, model).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn openai_chat_request_into_the_ir() {
    let request = ir(ApiFormat::OpenAiChat, OPENAI_CHAT_REQUEST);
    assert_eq!(request.model, "gpt-4o");
    assert_eq!(
        request.system,
        vec![Part::Text("You are a weather bot.".into())]
    );
    assert_eq!(request.messages.len(), 3);
    let user = &request.messages[0];
    assert_eq!(user.role, Role::User);
    assert_eq!(
        user.parts[1],
        Part::Image(Media::Url("https://example.com/cat.png".into()))
    );
    assert_eq!(
        user.parts[2],
        Part::Image(Media::Base64 {
            media_type: "image/png".into(),
            data: "iVBORw0KGgo=".into()
        })
    );
    // The tool result knows its tool's name (Gemini needs it).
    match &request.messages[2].parts[0] {
        Part::ToolResult { call_id, name, .. } => {
            assert_eq!(
                (call_id.as_str(), name.as_str()),
                ("call_abc123", "get_weather")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(request.stop, vec!["END".to_string()]);
    assert_eq!(request.max_tokens, Some(512));
    assert_eq!(request.tool_choice, Some(ToolChoice::Auto));
    assert!(request.stream && request.include_usage);
    assert_eq!(request.reasoning.unwrap().effort, Some(Effort::High));
    assert!(
        matches!(request.response_format, Some(ResponseFormat::JsonSchema { ref name, .. }) if name == "answer")
    );
}

#[test]
fn openai_chat_to_anthropic() {
    let body = convert(
        ApiFormat::OpenAiChat,
        ApiFormat::Anthropic,
        OPENAI_CHAT_REQUEST,
        "claude-sonnet-4-5",
    );
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are a weather bot."}])
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["content"][1]["source"],
        json!({"type": "url", "url": "https://example.com/cat.png"})
    );
    assert_eq!(
        messages[0]["content"][2]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        messages[1]["content"][0],
        json!({"type": "tool_use", "id": "call_abc123", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "call_abc123");
    assert_eq!(
        body["tools"][0]["input_schema"]["required"],
        json!(["city"])
    );
    assert_eq!(body["tool_choice"], json!({"type": "auto"}));
    assert_eq!(body["stop_sequences"], json!(["END"]));
    // Thinking on: budget from the effort, max_tokens above it, temperature dropped.
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 24576})
    );
    assert!(body["max_tokens"].as_u64().unwrap() > 24576);
    assert!(body.get("temperature").is_none());
    assert_eq!(body["stream"], true);
}

#[test]
fn anthropic_request_into_the_ir_and_to_openai() {
    let request = ir(ApiFormat::Anthropic, ANTHROPIC_REQUEST);
    assert_eq!(
        request.tools.len(),
        1,
        "the server tool has no IR equivalent"
    );
    assert_eq!(request.tool_choice, Some(ToolChoice::Required));
    assert_eq!(request.reasoning.unwrap().budget_tokens, Some(2048));
    assert_eq!(request.top_k, Some(40));
    assert!(matches!(
        &request.messages[0].parts[0],
        Part::Document { name: Some(name), source: Media::Base64 { media_type, .. } }
            if name == "report.pdf" && media_type == "application/pdf"
    ));
    assert!(matches!(&request.messages[2].parts[0],
        Part::ToolResult { is_error: true, name, .. } if name == "get_stock_price"));

    let body = convert(
        ApiFormat::Anthropic,
        ApiFormat::OpenAiChat,
        ANTHROPIC_REQUEST,
        "gpt-4.1",
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "You are a careful analyst."})
    );
    assert_eq!(messages[1]["content"][0]["type"], "file");
    assert_eq!(
        messages[1]["content"][0]["file"]["file_data"],
        "data:application/pdf;base64,JVBERi0xLjQK"
    );
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        "{\"ticker\":\"ACME\"}"
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "Error: ticker not found"})
    );
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["max_completion_tokens"], 4096);
    assert!(body.get("stream").is_none());
}

#[test]
fn anthropic_to_gemini_keeps_thinking_tools_and_schemas_valid() {
    let body = convert(
        ApiFormat::Anthropic,
        ApiFormat::Gemini,
        ANTHROPIC_REQUEST,
        "gemini-2.5-pro",
    );
    assert!(
        body.get("model").is_none(),
        "Gemini takes the model in the path"
    );
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "You are a careful analyst."}]})
    );
    let contents = body["contents"].as_array().unwrap();
    assert_eq!(
        contents[0]["parts"][0]["inlineData"]["mimeType"],
        "application/pdf"
    );
    assert_eq!(contents[1]["role"], "model");
    assert_eq!(
        contents[1]["parts"],
        json!([{"functionCall": {"name": "get_stock_price", "args": {"ticker": "ACME"}}}])
    );
    assert_eq!(
        contents[2]["parts"][0]["functionResponse"],
        json!({"name": "get_stock_price", "response": {"error": "ticker not found"}})
    );
    assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
    let config = &body["generationConfig"];
    assert_eq!(
        config["thinkingConfig"],
        json!({"thinkingBudget": 2048, "includeThoughts": true})
    );
    assert_eq!(config["topK"], 40);
    assert_eq!(config["stopSequences"], json!(["\n\nHuman:"]));
}

#[test]
fn openai_schemas_are_narrowed_for_gemini() {
    let body = convert(
        ApiFormat::OpenAiChat,
        ApiFormat::Gemini,
        OPENAI_CHAT_REQUEST,
        "gemini-2.5-flash",
    );
    let parameters = &body["tools"][0]["functionDeclarations"][0]["parameters"];
    assert!(parameters.get("additionalProperties").is_none());
    assert_eq!(
        parameters["properties"]["unit"],
        json!({"type": "string", "nullable": true})
    );
    assert_eq!(
        body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        body["generationConfig"]["responseSchema"]["properties"]["text"]["type"],
        "string"
    );
    assert_eq!(
        body["contents"][0]["parts"][1]["fileData"]["fileUri"],
        "https://example.com/cat.png"
    );
    assert_eq!(
        body["contents"][0]["parts"][2]["inlineData"]["data"],
        "iVBORw0KGgo="
    );
}

#[test]
fn gemini_request_into_the_ir_and_to_openai() {
    let request = request_to_ir(
        ApiFormat::Gemini,
        GEMINI_REQUEST.as_bytes(),
        Some("gemini-2.5-flash"),
    )
    .unwrap();
    assert_eq!(request.model, "gemini-2.5-flash");
    assert_eq!(
        request.tool_choice,
        Some(ToolChoice::Named("find_lights".into()))
    );
    assert_eq!(request.response_format, Some(ResponseFormat::JsonObject));
    let body = convert(
        ApiFormat::Gemini,
        ApiFormat::OpenAiChat,
        GEMINI_REQUEST,
        "gpt-4o-mini",
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(
        messages[1]["content"][1]["image_url"]["url"],
        "data:image/jpeg;base64,/9j/4AAQ"
    );
    // Generated id joins the call to its result.
    let call_id = messages[2]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(messages[3]["tool_call_id"], call_id);
    assert_eq!(messages[3]["content"], "2 lights");
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "find_lights"}})
    );
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert_eq!(body["max_completion_tokens"], 1024);
    assert_eq!(body["stop"], json!(["STOP!"]));
}

#[test]
fn responses_request_round_trips_through_chat() {
    let body = convert(
        ApiFormat::OpenAiResponses,
        ApiFormat::OpenAiChat,
        RESPONSES_REQUEST,
        "gpt-5",
    );
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "Be terse."})
    );
    assert_eq!(
        messages[1]["content"][1]["image_url"]["url"],
        "https://example.com/oslo.jpg"
    );
    assert_eq!(messages[2]["tool_calls"][0]["id"], "call_9");
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_9", "content": "-3C"})
    );
    assert_eq!(body["stream_options"], json!({"include_usage": true}));

    let back = convert(
        ApiFormat::OpenAiChat,
        ApiFormat::OpenAiResponses,
        &body.to_string(),
        "gpt-5",
    );
    assert_eq!(back["instructions"], "Be terse.");
    let input = back["input"].as_array().unwrap();
    assert_eq!(input[1]["type"], "function_call");
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "call_9", "output": "-3C"})
    );
    assert_eq!(
        back["tool_choice"],
        json!({"type": "function", "name": "get_weather"})
    );
    assert_eq!(back["reasoning"], json!({"effort": "low"}));
    assert_eq!(back["text"], json!({"format": {"type": "json_object"}}));
    assert_eq!(back["max_output_tokens"], 300);
}

#[test]
fn bad_requests_are_refused_in_the_callers_terms() {
    let error = request_to_ir(ApiFormat::OpenAiChat, b"{not json", None).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest);
    assert!(error.message.contains("not valid JSON"));
    let error = request_to_ir(ApiFormat::OpenAiChat, br#"{"model":"x"}"#, None).unwrap_err();
    assert_eq!(error.param.as_deref(), Some("messages"));
    assert!(
        request_to_ir(
            ApiFormat::Anthropic,
            br#"{"messages":[{"role":"robot","content":"x"}]}"#,
            None
        )
        .is_err()
    );
    assert!(request_to_ir(ApiFormat::OpenAiChat, b"[1]", None).is_err());
    assert!(request_to_ir(ApiFormat::OpenAiEmbeddings, b"{}", None).is_err());
}

#[test]
fn openai_answer_to_anthropic_and_gemini() {
    let (body, usage) = convert_response(
        ApiFormat::OpenAiChat,
        ApiFormat::Anthropic,
        OPENAI_CHAT_RESPONSE.as_bytes(),
        "claude-x",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(usage.input_tokens, 1117);
    assert_eq!(usage.cache_read_tokens, 1024);
    assert_eq!(usage.reasoning_tokens, 12);
    assert_eq!(body["id"], "msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG");
    assert_eq!(body["model"], "claude-x");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["type"], "thinking");
    assert_eq!(
        body["content"][1],
        json!({"type": "text", "text": "Checking."})
    );
    assert_eq!(body["content"][2]["input"], json!({"city": "Paris"}));
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 93, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 1024, "output_tokens": 46})
    );

    let (body, _) = convert_response(
        ApiFormat::OpenAiChat,
        ApiFormat::Gemini,
        OPENAI_CHAT_RESPONSE.as_bytes(),
        "gemini-x",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let parts = body["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(
        parts[0],
        json!({"text": "User wants weather.", "thought": true})
    );
    assert_eq!(
        parts[2],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}})
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["usageMetadata"]["thoughtsTokenCount"], 12);
    assert_eq!(body["usageMetadata"]["candidatesTokenCount"], 34);
}

#[test]
fn anthropic_answer_to_openai_with_cache_counts() {
    let (body, usage) = convert_response(
        ApiFormat::Anthropic,
        ApiFormat::OpenAiChat,
        ANTHROPIC_RESPONSE.as_bytes(),
        "claude-sonnet-4-5",
    )
    .unwrap();
    assert_eq!(usage.input_tokens, 472 + 2048 + 1800);
    assert_eq!(
        (usage.cache_creation_tokens, usage.cache_read_tokens),
        (2048, 1800)
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    let message = &body["choices"][0]["message"];
    assert_eq!(message["content"], "I'll look that up.");
    assert_eq!(message["reasoning_content"], "Let me check.");
    assert_eq!(
        message["tool_calls"][0]["id"],
        "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    );
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"location\":\"San Francisco, CA\"}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(body["usage"]["prompt_tokens"], 4320);
    assert_eq!(
        body["usage"]["prompt_tokens_details"]["cached_tokens"],
        1800
    );
    assert_eq!(body["object"], "chat.completion");
}

#[test]
fn gemini_answer_to_openai_and_responses() {
    let response = response_to_ir(ApiFormat::Gemini, GEMINI_RESPONSE.as_bytes()).unwrap();
    assert_eq!(
        response.finish,
        FinishReason::ToolCalls,
        "a function call ends with STOP in Gemini"
    );
    assert_eq!(response.usage.output_tokens, 80);
    assert_eq!(response.id, "mAitaJ-KFqDwmtkP1u3q-Ac");
    let (body, _) = convert_response(
        ApiFormat::Gemini,
        ApiFormat::OpenAiResponses,
        GEMINI_RESPONSE.as_bytes(),
        "",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["model"], "gemini-2.5-flash");
    let output = body["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[1]["name"], "set_light");
    assert_eq!(output[2]["content"][0]["text"], "Turning on the lights.");
    assert_eq!(
        body["usage"]["output_tokens_details"]["reasoning_tokens"],
        50
    );
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 64);
}

#[test]
fn responses_answer_to_anthropic() {
    let (body, usage) = convert_response(
        ApiFormat::OpenAiResponses,
        ApiFormat::Anthropic,
        RESPONSES_RESPONSE.as_bytes(),
        "claude",
    )
    .unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.reasoning_tokens
        ),
        (36, 87, 64)
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][1]["text"], "It is cold.");
    assert_eq!(body["content"][2]["id"], "call_2");
}

#[test]
fn finish_reasons_map_both_ways() {
    let cases = [
        (
            r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}]}"#,
            "length",
            "max_tokens",
        ),
        (
            r#"{"candidates":[{"finishReason":"SAFETY"}]}"#,
            "content_filter",
            "refusal",
        ),
        (
            r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
            "content_filter",
            "refusal",
        ),
    ];
    for (gemini, openai, anthropic) in cases {
        let (body, _) = convert_response(
            ApiFormat::Gemini,
            ApiFormat::OpenAiChat,
            gemini.as_bytes(),
            "m",
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["choices"][0]["finish_reason"], openai);
        let (body, _) = convert_response(
            ApiFormat::Gemini,
            ApiFormat::Anthropic,
            gemini.as_bytes(),
            "m",
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["stop_reason"], anthropic);
    }
    let stop = r#"{"id":"msg_1","content":[{"type":"text","text":"a"}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":1,"output_tokens":1}}"#;
    let (body, _) = convert_response(
        ApiFormat::Anthropic,
        ApiFormat::Anthropic,
        stop.as_bytes(),
        "m",
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (body["stop_reason"].as_str(), body["stop_sequence"].as_str()),
        (Some("stop_sequence"), Some("END"))
    );
}

#[test]
fn gemini_3_replayed_calls_carry_a_signature() {
    let body = convert(
        ApiFormat::OpenAiChat,
        ApiFormat::Gemini,
        OPENAI_CHAT_REQUEST,
        "gemini-3-pro-preview",
    );
    assert_eq!(
        body["contents"][1]["parts"][0]["thoughtSignature"],
        "skip_thought_signature_validator"
    );
    let body = convert(
        ApiFormat::OpenAiChat,
        ApiFormat::Gemini,
        OPENAI_CHAT_REQUEST,
        "gemini-2.5-flash",
    );
    assert!(
        body["contents"][1]["parts"][0]
            .get("thoughtSignature")
            .is_none()
    );
    // Another provider's signature (Anthropic thinking) is never passed to Gemini.
    let anthropic = r#"{"model":"x","max_tokens":9,"messages":[{"role":"user","content":"hi"},
        {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"EqQBCkgI"},
        {"type":"tool_use","id":"t1","name":"f","input":{}}]}]}"#;
    let body = convert(
        ApiFormat::Anthropic,
        ApiFormat::Gemini,
        anthropic,
        "gemini-3-flash",
    );
    assert_eq!(
        body["contents"][1]["parts"],
        json!([{"functionCall": {"name": "f", "args": {}},
            "thoughtSignature": "skip_thought_signature_validator"}])
    );
}

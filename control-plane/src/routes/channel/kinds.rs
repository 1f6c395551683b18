//! Channel types as new-api numbers them, and the base URL each uses when a channel leaves its
//! own empty. Every number new-api defines is accepted and stored; the relay speaks the
//! OpenAI-compatible protocol (type 1 and the many providers that expose it).

/// OpenAI and every OpenAI-compatible upstream.
pub const OPENAI: i64 = 1;
/// new-api's "custom" type: OpenAI-compatible at an arbitrary base URL.
pub const CUSTOM: i64 = 8;

/// `(type, default base URL)` for every type new-api defines (its `ChannelBaseURLs`).
const KNOWN: &[(i64, &str)] = &[
    (1, "https://api.openai.com"),
    (2, "https://oa.api2d.net"),
    (3, ""),
    (4, "http://localhost:11434"),
    (5, "https://api.openai-sb.com"),
    (6, "https://api.openaimax.com"),
    (7, "https://api.ohmygpt.com"),
    (8, ""),
    (9, "https://api.caipacity.com"),
    (10, "https://api.aiproxy.io"),
    (11, ""),
    (12, "https://api.api2gpt.com"),
    (13, "https://api.aigc2d.com"),
    (14, "https://api.anthropic.com"),
    (15, "https://aip.baidubce.com"),
    (16, "https://open.bigmodel.cn"),
    (17, "https://dashscope.aliyuncs.com"),
    (18, ""),
    (19, "https://api.360.cn"),
    (20, "https://openrouter.ai/api"),
    (21, "https://api.aiproxy.io"),
    (22, "https://fastgpt.run/api/openapi"),
    (23, "https://hunyuan.tencentcloudapi.com"),
    (24, "https://generativelanguage.googleapis.com"),
    (25, "https://api.moonshot.cn"),
    (26, "https://open.bigmodel.cn"),
    (27, "https://api.perplexity.ai"),
    (31, "https://api.lingyiwanwu.com"),
    (33, ""),
    (34, "https://api.cohere.ai"),
    (35, "https://api.minimax.chat"),
    (36, ""),
    (37, "https://api.dify.ai"),
    (38, "https://api.jina.ai"),
    (39, "https://api.cloudflare.com"),
    (40, "https://api.siliconflow.cn"),
    (41, ""),
    (42, "https://api.mistral.ai"),
    (43, "https://api.deepseek.com"),
    (44, "https://api.moka.ai"),
    (45, "https://ark.cn-beijing.volces.com"),
    (46, "https://qianfan.baidubce.com"),
    (47, ""),
    (48, "https://api.x.ai"),
    (49, "https://api.coze.cn"),
    (50, "https://api.klingai.com"),
    (51, "https://visual.volcengineapi.com"),
    (52, "https://api.vidu.cn"),
    (53, "https://llm.submodel.ai"),
    (54, "https://ark.cn-beijing.volces.com"),
    (55, "https://api.openai.com"),
    (56, "https://api.replicate.com"),
    (57, "https://chatgpt.com"),
];

/// Whether new-api defines this channel type.
pub fn is_known(kind: i64) -> bool {
    KNOWN.iter().any(|(k, _)| *k == kind)
}

/// The base URL a channel of this type uses when its own is empty ("" when there is none).
pub fn default_base_url(kind: i64) -> &'static str {
    KNOWN
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, url)| url)
}

/// The base URL requests to this channel go to, before `/v1/...`: without a trailing slash,
/// and without a trailing `/v1` (operators often include it; the relay drops it too).
pub fn effective_base_url(kind: i64, base_url: &str) -> String {
    let url = if base_url.is_empty() {
        default_base_url(kind)
    } else {
        base_url
    };
    let url = url.trim_end_matches('/');
    url.strip_suffix("/v1").unwrap_or(url).to_string()
}

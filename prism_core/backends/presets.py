"""API presets: a short model name -> OpenAI-compatible base URL + the variable holding its key.

The six API families of the paper each have a provider entry; a model name is matched by its
family prefix ("gemini-2.5-flash" -> Google), and a few short aliases name a default model
("gemini" -> "gemini-2.5-flash"). The base URL can be overridden by the family's ``*_BASE_URL``
variable or the backend's ``base_url`` option, the key variable by ``api_key_env``. Keys are only
ever read from the environment, never stored here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Provider", "Preset", "PROVIDERS", "ALIASES", "find_preset", "presets_table"]


@dataclass(frozen=True)
class Provider:
    """An OpenAI-compatible service: default URL, env var of the key, env var overriding the URL."""
    name: str
    base_url: str
    api_key_env: str
    base_url_env: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Preset:
    """What ``find_preset`` answers: the model id to send and where to send it."""
    name: str
    model: str
    provider: str
    base_url: str
    api_key_env: str


PROVIDERS: dict[str, Provider] = {p.name: p for p in [
    Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "OPENAI_BASE_URL",
             ("gpt-", "chatgpt-", "o1", "o3", "o4")),
    Provider("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/",
             "GEMINI_API_KEY", "GEMINI_BASE_URL", ("gemini-", "gemma-")),
    Provider("xai", "https://api.x.ai/v1", "XAI_API_KEY", "XAI_BASE_URL", ("grok-",)),
    Provider("doubao", "https://ark.cn-beijing.volces.com/api/v3", "ARK_API_KEY",
             "ARK_BASE_URL", ("doubao-",)),
    Provider("dashscope", "https://dashscope.aliyuncs.com/compatible-mode/v1",
             "DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL",
             ("qwen-vl", "qwen2-vl", "qwen2.5-vl", "qwen3-vl", "qvq-")),
    Provider("zhipu", "https://open.bigmodel.cn/api/paas/v4/", "ZHIPUAI_API_KEY",
             "ZHIPUAI_BASE_URL", ("glm-4v", "glm-4.1v", "glm-4.5v", "glm-4.6v")),
]}

#: Short names -> the model id sent to the API.
ALIASES: dict[str, str] = {
    "gpt-4o": "gpt-4o",
    "gemini": "gemini-2.5-flash",
    "grok": "grok-2-vision-1212",
    "doubao": "doubao-1.5-vision-pro-32k-250115",
    "qwen-vl": "qwen-vl-max",
    "glm-4v": "glm-4v-plus",
}


def find_preset(name: str | None) -> Preset | None:
    """The preset for a model name or alias, or None when no provider claims it.

    The base URL honours the provider's ``*_BASE_URL`` variable when it is set.
    """
    if not name:
        return None
    model = ALIASES.get(name, name)
    lowered = model.lower()
    for p in PROVIDERS.values():
        if lowered.startswith(p.prefixes):
            base_url = os.environ.get(p.base_url_env) or p.base_url
            return Preset(name=name, model=model, provider=p.name, base_url=base_url,
                          api_key_env=p.api_key_env)
    return None


def presets_table() -> str:
    """A Markdown table of the presets (for the README and ``--help``)."""
    rows = ["| name | model sent | base URL | key variable | URL override |",
            "| --- | --- | --- | --- | --- |"]
    for alias, model in ALIASES.items():
        p = PROVIDERS[find_preset(alias).provider]
        rows.append(f"| `{alias}` | `{model}` | {p.base_url} | `{p.api_key_env}` | "
                    f"`{p.base_url_env}` |")
    prefixes = "; ".join(f"{p.name}: " + ", ".join(f"`{x}*`" for x in p.prefixes)
                         for p in PROVIDERS.values())
    return "\n".join(rows) + f"\n\nOther model names by prefix — {prefixes}."

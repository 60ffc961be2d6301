"""Languages of the buyer's pages: English and Simplified Chinese.

The language is the ``?lang=`` parameter when given (``en``, ``zh``, ``zh-CN``, ``zh-Hans``...),
else the best match of ``Accept-Language`` (RFC 9110 quality values), else English.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "zh")
DEFAULT_LANGUAGE: Final = "en"
#: Each language's name in itself (the language switch).
NAMES: Final = {"en": "English", "zh": "简体中文"}
#: The BCP 47 tag each language is served with (``Content-Language``, ``<html lang>``).
TAGS: Final = {"en": "en", "zh": "zh-Hans"}


def _match(tag: str) -> str | None:
    primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    if primary in LANGUAGES:
        return primary
    return None


def negotiate(lang: str | None, accept_language: str | None) -> str:
    """The page language for a ``?lang=`` value and an ``Accept-Language`` header."""
    if lang:
        chosen = _match(lang)
        if chosen:
            return chosen
    if accept_language:
        best: tuple[float, int, str] | None = None
        for position, item in enumerate(accept_language.split(",")[:32]):
            tag, _, params = item.partition(";")
            quality = 1.0
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name.strip().lower() == "q":
                    try:
                        quality = float(value)
                    except ValueError:
                        quality = 0.0
            chosen = _match(tag)
            if chosen and quality > 0 and (best is None or (quality, -position) > best[:2]):
                best = (quality, -position, chosen)
        if best:
            return best[2]
    return DEFAULT_LANGUAGE


MESSAGES: Final[dict[str, dict[str, str]]] = {
    "page_title": {"en": "Product verification", "zh": "产品溯源验证"},
    "verdict_verified": {
        "en": "Verified: this product's record is intact and anchored on the ledger.",
        "zh": "已验证：该产品的记录完整，并已锚定在区块链账本上。",
    },
    "verdict_pending": {
        "en": "Recorded: the latest events are not anchored on the ledger yet.",
        "zh": "已记录：最新事件尚未锚定到区块链账本。",
    },
    "verdict_tampered": {
        "en": "Warning: this product's record was altered after it was anchored.",
        "zh": "警告：该产品的记录在锚定后被篡改。",
    },
    "verdict_recalled": {
        "en": "Recalled: do not use this product.",
        "zh": "已召回：请勿使用该产品。",
    },
    "verdict_unknown": {
        "en": "Unknown: no record of this product was found.",
        "zh": "未知：未找到该产品的任何记录。",
    },
    "banner_recalled": {
        "en": "RECALL — the maker has recalled this product.",
        "zh": "召回 — 生产商已召回该产品。",
    },
    "banner_tampered": {
        "en": "TAMPERED RECORD — at least one event does not match what was anchored.",
        "zh": "记录被篡改 — 至少有一个事件与锚定内容不一致。",
    },
    "recall_reason": {"en": "Reason", "zh": "原因"},
    "recall_since": {"en": "Recalled in block", "zh": "召回区块"},
    "product": {"en": "Product", "zh": "产品"},
    "identifier": {"en": "Identifier", "zh": "标识"},
    "gtin": {"en": "GTIN", "zh": "商品条码 (GTIN)"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "production_date": {"en": "Produced", "zh": "生产日期"},
    "expiry_date": {"en": "Expires", "zh": "有效期至"},
    "made_by": {"en": "Made by", "zh": "生产商"},
    "made_at": {"en": "Made at", "zh": "生产地点"},
    "timeline": {"en": "Timeline", "zh": "流转记录"},
    "no_events": {"en": "No events recorded.", "zh": "暂无事件记录。"},
    "what": {"en": "What", "zh": "事件"},
    "when": {"en": "When", "zh": "时间"},
    "where": {"en": "Where", "zh": "地点"},
    "who": {"en": "Who", "zh": "记录方"},
    "quantity": {"en": "Quantity", "zh": "数量"},
    "status_verified": {"en": "Verified", "zh": "已验证"},
    "status_pending": {"en": "Pending anchoring", "zh": "待锚定"},
    "status_tampered": {"en": "Tampered", "zh": "已篡改"},
    "status_unknown": {"en": "Not verifiable", "zh": "无法验证"},
    "block": {"en": "Block", "zh": "区块"},
    "transaction": {"en": "Transaction", "zh": "交易"},
    "merkle_root": {"en": "Merkle root", "zh": "默克尔根"},
    "contract": {"en": "Anchor contract", "zh": "锚定合约"},
    "chain": {"en": "Chain", "zh": "链"},
    "verify_yourself": {
        "en": "Anyone can check these records against the ledger without trusting this site.",
        "zh": "任何人都可以直接在区块链账本上核对这些记录，无需信任本网站。",
    },
    "language": {"en": "Language", "zh": "语言"},
    "machine_readable": {"en": "Machine-readable trail (JSON)", "zh": "机器可读记录 (JSON)"},
    "action_ADD": {"en": "added", "zh": "新增"},
    "action_OBSERVE": {"en": "observed", "zh": "观察"},
    "action_DELETE": {"en": "removed", "zh": "移除"},
    "unknown_member": {"en": "unknown member", "zh": "未知成员"},
    "event_recalled": {"en": "Recall notice", "zh": "召回通知"},
    "event_recall_lifted": {"en": "Recall lifted", "zh": "召回解除"},
}

#: CBV 2.0 business steps (the last segment of the GS1 Web URI) in both languages.
BIZ_STEPS: Final[dict[str, dict[str, str]]] = {
    "commissioning": {"en": "Produced", "zh": "生产"},
    "packing": {"en": "Packed", "zh": "包装"},
    "unpacking": {"en": "Unpacked", "zh": "拆包"},
    "shipping": {"en": "Shipped", "zh": "发货"},
    "departing": {"en": "Departed", "zh": "离开"},
    "arriving": {"en": "Arrived", "zh": "到达"},
    "receiving": {"en": "Received", "zh": "收货"},
    "accepting": {"en": "Accepted", "zh": "验收"},
    "storing": {"en": "Stored", "zh": "入库"},
    "loading": {"en": "Loaded", "zh": "装载"},
    "inspecting": {"en": "Inspected", "zh": "检验"},
    "retail_selling": {"en": "Sold", "zh": "零售"},
    "dispensing": {"en": "Dispensed", "zh": "发放"},
    "decommissioning": {"en": "Decommissioned", "zh": "停用"},
    "destroying": {"en": "Destroyed", "zh": "销毁"},
    "recalling": {"en": "Recalled", "zh": "召回"},
    "transforming": {"en": "Transformed", "zh": "加工"},
    "assembling": {"en": "Assembled", "zh": "组装"},
    "repairing": {"en": "Repaired", "zh": "维修"},
    "sensor_reporting": {"en": "Sensor reading", "zh": "传感器读数"},
}
EVENT_TYPES: Final[dict[str, dict[str, str]]] = {
    "ObjectEvent": {"en": "Object event", "zh": "对象事件"},
    "AggregationEvent": {"en": "Aggregation", "zh": "聚合事件"},
    "TransactionEvent": {"en": "Transaction", "zh": "交易事件"},
    "TransformationEvent": {"en": "Transformation", "zh": "转换事件"},
    "AssociationEvent": {"en": "Association", "zh": "关联事件"},
}


def t(key: str, lang: str) -> str:
    """The message ``key`` in ``lang`` (English when missing)."""
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry[DEFAULT_LANGUAGE]


def biz_step_label(biz_step: str | None, event_type: str, lang: str) -> str:
    """What an event was, for people: its business step, else its event type."""
    if biz_step:
        term = biz_step.rsplit("BizStep-", 1)[-1].rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        entry = BIZ_STEPS.get(term)
        if entry:
            return entry[lang]
        return term.replace("_", " ")
    entry = EVENT_TYPES.get(event_type)
    return entry[lang] if entry else event_type

"""Languages of the buyer's pages: English and Simplified Chinese.

The language is the ``?lang=`` parameter when given (``en``, ``zh``, ``zh-CN``, ``zh-Hans``...),
else the best match of ``Accept-Language`` (RFC 9110 quality values), else English.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter
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
    "verdict_unconfirmed_origin": {
        "en": "Origin not confirmed: the brand owner has not recorded making this product.",
        "zh": "来源未确认：品牌所有者没有该产品的生产记录。",
    },
    "banner_unconfirmed": {
        "en": "The events below were recorded by other members. The ledger holds no record of "
        "the brand owner commissioning this product, so they do not show where it came from.",
        "zh": "以下事件由其他成员记录。账本上没有品牌所有者为该产品赋码投产的记录，"
        "因此这些事件不能证明产品的来源。",
    },
    "banner_no_owner": {
        "en": "No member of this ledger owns this code's prefix, so no brand owner vouches for "
        "this product.",
        "zh": "本账本中没有成员拥有该编码的前缀，因此没有品牌所有者为该产品担保。",
    },
    "brand_owner": {"en": "Brand owner", "zh": "品牌所有者"},
    "origin": {"en": "Origin", "zh": "来源"},
    "origin_confirmed": {
        "en": "commissioned by the brand owner",
        "zh": "品牌所有者已赋码投产",
    },
    "origin_pending": {
        "en": "commissioned by the brand owner, not anchored yet",
        "zh": "品牌所有者已赋码投产，尚未锚定",
    },
    "origin_tampered": {
        "en": "the brand owner's commissioning record was altered",
        "zh": "品牌所有者的赋码记录被篡改",
    },
    "origin_unknown": {"en": "cannot be checked right now", "zh": "暂时无法核对"},
    "origin_unconfirmed": {
        "en": "not confirmed by the brand owner",
        "zh": "未经品牌所有者确认",
    },
    "origin_no_owner": {"en": "no brand owner on this ledger", "zh": "本账本中无品牌所有者"},
    "banner_recalled": {
        "en": "RECALL — the maker has recalled this product.",
        "zh": "召回 — 生产商已召回该产品。",
    },
    "banner_tampered": {
        "en": "TAMPERED RECORD — at least one event does not match what was anchored.",
        "zh": "记录被篡改 — 至少有一个事件与锚定内容不一致。",
    },
    "recall_reason": {"en": "Reason", "zh": "原因"},
    "declared_in_error": {"en": "Declared in error", "zh": "已声明为错误"},
    "error_reason_did_not_occur": {"en": "the event did not occur", "zh": "事件未发生"},
    "error_reason_incorrect_data": {"en": "incorrect data", "zh": "数据有误"},
    "corrective_events": {"en": "Corrective events", "zh": "更正事件"},
    "recall_since": {"en": "Recalled in block", "zh": "召回区块"},
    "product": {"en": "Product", "zh": "产品"},
    "identifier": {"en": "Identifier", "zh": "标识"},
    "gtin": {"en": "GTIN", "zh": "商品条码 (GTIN)"},
    "lot": {"en": "Lot", "zh": "批号"},
    "serial": {"en": "Serial", "zh": "序列号"},
    "production_date": {"en": "Production date", "zh": "生产日期"},
    "expiry_date": {"en": "Expires", "zh": "有效期至"},
    "made_by": {"en": "Made by", "zh": "生产商"},
    "made_at": {"en": "Made at", "zh": "生产地点"},
    "timeline": {"en": "Timeline", "zh": "流转记录"},
    "no_events": {"en": "No events recorded.", "zh": "暂无事件记录。"},
    "what": {"en": "What", "zh": "事件"},
    "when": {"en": "When", "zh": "时间"},
    "where": {"en": "Where", "zh": "地点"},
    "who": {"en": "Who", "zh": "记录方"},
    "disclosure_public": {"en": "Public summary", "zh": "公开摘要"},
    "disclosure_withheld": {"en": "Not shown publicly", "zh": "未公开"},
    "disclosure_note": {
        "en": "Events marked “Public summary” show only what the brand owner discloses; this "
        "site checked each whole event against its anchor on the chain.",
        "zh": "标有“公开摘要”的事件仅显示品牌所有者公开的信息；本网站已将每个完整事件与其链上锚定"
        "进行核对。",
    },
    "field_when": {"en": "time", "zh": "时间"},
    "field_step": {"en": "step", "zh": "业务步骤"},
    "field_place": {"en": "place", "zh": "地点"},
    "field_lot": {"en": "lot data", "zh": "批次信息"},
    "field_identifiers": {"en": "identifiers", "zh": "标识"},
    "field_quantity": {"en": "quantities", "zh": "数量"},
    "field_parties": {"en": "parties", "zh": "交易方"},
    "field_transactions": {"en": "transactions", "zh": "业务单据"},
    "field_sensors": {"en": "sensor data", "zh": "传感器数据"},
    "field_extensions": {"en": "other data", "zh": "其他信息"},
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
    "reason_other": {
        "en": "This event failed a check against the ledger.",
        "zh": "该事件未通过与区块链账本的核对。",
    },
    # The error page a browser gets.
    "error_page_title": {"en": "Cannot show this product", "zh": "无法显示该产品"},
    "error_opened": {"en": "You opened", "zh": "您打开的地址"},
    "error_details": {"en": "Technical details", "zh": "技术细节"},
    "error_status": {"en": "HTTP status", "zh": "HTTP 状态码"},
    "error_hint": {
        "en": "Check the code printed on the product, or scan its QR code again.",
        "zh": "请核对产品上印刷的编码，或重新扫描二维码。",
    },
}

#: What a problem means for a person, by problem type: a heading and one sentence.
PROBLEMS: Final[dict[str, dict[str, tuple[str, str]]]] = {
    "invalid-identifier-check-digit": {
        "en": ("The code's check digit is wrong",
               "The last digit of the code does not match the others: it was probably "
               "mistyped or misread."),
        "zh": ("编码校验位错误", "编码的校验位与其他数字不符，可能是输入或识别有误。"),
    },
    "invalid-identifier-syntax": {
        "en": ("This is not a valid product code",
               "The address does not hold a product code this service reads (GS1 Digital "
               "Link, GS1 barcode data, EPC URI or Handle)."),
        "zh": ("产品编码格式无效",
               "该地址中的编码不是本服务可识别的格式（GS1 数字链接、GS1 条码数据、EPC URI 或 "
               "Handle 标识）。"),
    },
    "invalid-identifier-length": {
        "en": ("This is not a valid product code", "The code is too long, too short or empty."),
        "zh": ("产品编码格式无效", "编码过长、过短或为空。"),
    },
    "invalid-identifier-character": {
        "en": ("This is not a valid product code",
               "The code contains a character that codes of this kind may not contain."),
        "zh": ("产品编码格式无效", "编码中含有此类编码不允许的字符。"),
    },
    "invalid-identifier": {
        "en": ("This is not a valid product code", "The code could not be read."),
        "zh": ("产品编码格式无效", "无法识别该编码。"),
    },
    "identifier-not-convertible": {
        "en": ("This is not a valid product code",
               "The code cannot be written in the form this address needs."),
        "zh": ("产品编码格式无效", "该编码无法转换为此地址所需的形式。"),
    },
    "handle-prefix-not-served": {
        "en": ("Unknown handle prefix",
               "No member of this ledger owns the handle's prefix, so it has no record here."),
        "zh": ("未知的标识前缀", "本账本没有成员拥有该 Handle 标识的前缀，因此这里没有它的记录。"),
    },
    "not-found": {
        "en": ("Nothing here", "There is no product or page at this address."),
        "zh": ("未找到", "此地址没有对应的产品或页面。"),
    },
    "not-acceptable": {
        "en": ("Cannot answer in this format",
               "This address answers as a web page or as JSON data."),
        "zh": ("无法以此格式回答", "此地址只提供网页或 JSON 数据。"),
    },
    "unauthorized": {
        "en": ("Authentication required",
               "This address is for members: it needs an API key."),
        "zh": ("需要身份验证", "此地址仅供成员使用，需要 API 密钥。"),
    },
}  # fmt: skip
#: By status class when the problem type has no entry above.
PROBLEM_FALLBACK: Final[dict[str, tuple[str, str]]] = {
    "en": ("The request could not be answered", "The address or the request is not valid."),
    "zh": ("无法处理该请求", "该地址或请求无效。"),
}
SERVER_FALLBACK: Final[dict[str, tuple[str, str]]] = {
    "en": ("The service is unavailable", "Please try again in a moment."),
    "zh": ("服务暂时不可用", "请稍后再试。"),
}


def problem_text(slug: str, status: int, lang: str) -> tuple[str, str]:
    """A heading and a sentence saying what a problem means, in ``lang``."""
    entry = PROBLEMS.get(slug)
    if entry is not None:
        return entry[lang]
    return (SERVER_FALLBACK if status >= 500 else PROBLEM_FALLBACK)[lang]


#: CBV 2.0 business steps (the last segment of the GS1 Web URI) in both languages.
BIZ_STEPS: Final[dict[str, dict[str, str]]] = {
    "commissioning": {"en": "Commissioned", "zh": "赋码投产"},
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


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a sentence: words in the page's language, or a value shown as written (a
    hash, an address, a block number) that the page marks ``translate="no"``."""

    text: str
    value: bool = False


#: The reasons :class:`ledger.verify.Verifier` gives for a failed check, as patterns whose
#: named groups are values, with their Simplified Chinese sentence.
_REASONS: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"the captured event no longer parses as an EPCIS event: .*",
         "存储的事件已无法解析为 EPCIS 事件。"),
        (r"the captured event hashes to (?P<got>\S+), but (?P<want>\S+) was recorded",
         "存储的事件内容的哈希为 {got}，而锚定时记录的是 {want}。"),
        (r"the recorded event hash does not match the hash ID",
         "记录的事件哈希与事件哈希标识不一致。"),
        (r"the identifier key does not match the event's first identifier",
         "标识键与事件中的第一个标识不一致。"),
        (r"not anchored yet", "尚未锚定。"),
        (r"malformed proof: .*", "默克尔证明格式错误。"),
        (r"the Merkle proof does not lead from the event to its batch root",
         "默克尔证明无法从该事件推导出其批次根。"),
        (r"chain unreachable: .*", "暂时无法连接区块链。"),
        (r"the batch root (?P<root>\S+) is not anchored on the chain",
         "批次根 {root} 未锚定在链上。"),
        (r"the root was anchored by member (?P<by>\S+), not by the recorder (?P<recorder>\S+)",
         "该批次根由成员 {by} 锚定，而不是记录方 {recorder}。"),
        (r"the root is in block (?P<block>\S+), but block (?P<recorded>\S+) was recorded",
         "该批次根位于区块 {block}，而记录的是区块 {recorded}。"),
        (r"the anchoring transaction (?P<tx>\S+) is not on the chain",
         "锚定交易 {tx} 不在链上。"),
        (r"the root was sent by (?P<by>\S+), not by the recorded address (?P<recorded>\S+)",
         "该批次根由 {by} 发送，而不是记录的地址 {recorded}。"),
        (r"the event signature is malformed: .*", "事件签名格式错误。"),
        (r"the stored event does not match what was anchored \(details withheld\)",
         "存储的事件与锚定内容不一致（详情未公开）。"),
        (r"the event was signed by (?P<signer>\S+), which is no key of the recorder",
         "事件由 {signer} 签名，该地址不是记录方的密钥。"),
        # The origin of a trail (ledger.origin).
        (r"no member of this ledger owns the prefix of (?P<identifier>\S+)",
         "本账本中没有成员拥有 {identifier} 的前缀。"),
        (r"the brand owner (?P<owner>\S+) recorded no commissioning of (?P<identifier>\S+)",
         "品牌所有者 {owner} 没有 {identifier} 的赋码投产记录。"),
        (r"the chain does not confirm member (?P<member>\S+) as owner of (?P<prefix>\S+)",
         "链上记录不能确认成员 {member} 是 {prefix} 的所有者。"),
    )
)  # fmt: skip


def reason_segments(reason: str, lang: str) -> list[Segment]:
    """A verification reason for people: in English as given (values marked), in Chinese
    translated (a reason not known here says only that a check failed)."""
    for pattern, zh in _REASONS:
        match = pattern.fullmatch(reason)
        if match is None:
            continue
        if lang == "zh":
            out: list[Segment] = []
            for literal, name, _, _ in Formatter().parse(zh):
                if literal:
                    out.append(Segment(literal))
                if name:
                    out.append(Segment(match.group(name), value=True))
            return out
        out, at = [], 0
        for name in pattern.groupindex:
            start, end = match.span(name)
            out += [Segment(reason[at:start]), Segment(reason[start:end], value=True)]
            at = end
        return [*out, Segment(reason[at:])]
    if lang == "zh":
        return [Segment(t("reason_other", lang))]
    return [Segment(reason)]

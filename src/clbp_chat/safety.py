"""The safety gate: every message passes here before retrieval.

Deterministic patterns, not a model, so each decision can be read, tested and explained to a clinic.
- Emergency and crisis come first, whatever else the message says (a prompt injection included).
- A symptom counts unless a negation stands before it in the same clause ("no bladder problems",
  "I don't have any numbness"), or the sentence is a general question about the treatment with no
  first-person words ("can stem cells cause a fever?" is a question for the library, not a red flag).
- Then prompt injection, off-topic requests and personal medical advice, in that order
  ("should I buy bitcoin?" is off-topic before it is personal advice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMERGENCY = "emergency"
CRISIS = "crisis"
PERSONAL_ADVICE = "personal_medical_advice"
OUT_OF_SCOPE = "out_of_scope"
PROMPT_INJECTION = "prompt_injection"

_W = r"(?:\w+\s+){0,3}"  # up to three words in between
_BLADDER = r"(?:bladd?e?r|blader|bowe?ls?|urine|pee|peeing|urinat\w*|poo|poop|stool)"

RED_FLAGS: dict[str, list[str]] = {
    "bladder or bowel control": [
        rf"\b(?:lost|losing|lose|loss of|no|poor|without|cant|cannot|not able to|unable to)\s+{_W}control\s+(?:of|over)\s+(?:my\s+|the\s+)?{_BLADDER}",
        rf"\b(?:lost|losing|lose|loss of)\s+{_W}{_BLADDER}",
        rf"\b{_BLADDER}\b.{{0,20}}\b(?:gone|lost|accidents?|leak\w*|incontinence|problems?|issues?|trouble|dysfunction)",
        r"\bincontinen\w*",
        r"\b(?:wet|peed|pooped|soiled|messed)\s+(?:my\s?self|the bed|my (?:pants|bed))",
        rf"\b(?:cant|cannot|unable to|not able to|trouble|difficulty|struggl\w* to)\s+(?:\w+\s+)?(?:pee|urinate|hold (?:my |in )?{_BLADDER}|empty my bladd?e?r|control (?:my )?{_BLADDER})",
        r"\b(?:havent|have not|hasnt)\s+(?:peed|urinated|been able to pee)",
        r"\burinary retention\b",
    ],
    "saddle numbness": [
        r"\b(?:numb\w*|tingl\w*|pins and needles|no feeling|no sensation|cant feel|lost feeling|loss of (?:feeling|sensation))\b.{0,40}\b(?:groin|grion|saddle|genitals?|private(?:s| parts| area)?|crotch|between (?:my|the) legs|inner thighs?|buttocks?|bum|butt|anus|perineum|down there|bottom)",
        r"\b(?:groin|grion|saddle|genitals?|privates?|crotch|perineum|bum|butt|buttocks)\b.{0,30}\b(?:numb\w*|tingl\w*|no feeling|cant feel|dead)",
        r"\bsaddle (?:an(?:a)?esthesia|numbness)\b",
    ],
    "leg weakness": [
        r"\b(?:legs?|foot|feet)\b.{0,30}\b(?:weak\w*|giving (?:out|way)|gave (?:out|way)|give (?:out|way)|buckl\w*|collaps\w*|paraly\w*|dragging|wont (?:move|hold))",
        r"\b(?:weak\w*|paraly\w*|cant (?:move|lift|feel)|lost (?:strength|the strength))\b.{0,25}\b(?:legs?|foot|feet)\b",
        r"\bfoot drop\b",
        r"\b(?:cant|cannot|unable to|can no longer|no longer able to)\s+(?:walk|stand)\b",
    ],
    "fever with back pain": [
        r"\b(?:fever\w*|chills|high temperature|running a temp\w*|temperature of|night sweats|rigors|shivering|shaking chills)\b",
    ],
    "major trauma": [
        r"\b(?:car|motor|motorcycle|motorbike|bike|bicycle|traffic|road|auto|skiing|sports?)\s+(?:accident|crash|collision|wreck)\b",
        r"\b(?:fell|fall|fallen|falling)\b.{0,25}\b(?:ladder|roof|stairs|steps|height|horse|tree|scaffold\w*|balcony|off|down|from|on (?:my|the) back|hard)\b",
        r"\b(?:hit by|struck by|run over by)\b",
        r"\b(?:crashed|was in a crash|car crash|accident)\b",
    ],
    "history of cancer": [
        r"\b(?:cancer|tumou?rs?|malignan\w*|metasta\w*|chemo\w*|radiotherapy|lymphoma|leuka?emia|myeloma|carcinoma|oncolog\w*)\b",
    ],
    "unexplained weight loss": [
        r"\b(?:lost|losing|lose|dropped|dropping)\b.{0,25}\b(?:weight|pounds|lbs|kilos?|kgs?|stone)\b",
        r"\bweight loss\b",
    ],
}

CRISIS_PATTERNS = [
    r"\bkill(?:ing)?\s+my\s?self\b",
    r"\bsuicid\w*|\bsuicde\w*|\bsucid\w*",
    r"\bend(?:ing)?\s+(?:it all|my life|my own life|things|everything)\b",
    r"\btake my (?:own )?life\b",
    r"\b(?:dont|do not|no longer)\s+want to (?:live|be alive|be here|wake up|exist|go on)\b",
    r"\bwant(?:ed|s)?\s+to die\b|\bwish i (?:was|were) dead\b|\bbetter off dead\b",
    r"\bno (?:reason|point)\s+(?:to|in)\s+(?:live|living|go on|going on|carry on)\b",
    r"\bself[- ]?harm\w*|\bhurt(?:ing)?\s+my\s?self\b|\bcut(?:ting)?\s+my\s?self\b",
    r"\bcant (?:go on|take (?:it|this) anymore|do this anymore)\b",
    r"\b(?:not|isnt) worth living\b|\boverdos\w*",
]

INJECTION_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override|bypass|drop)\b.{0,30}\b(?:previous|prior|above|earlier|all|your|these|any|system|original)\b.{0,25}\b(?:instructions?|rules|prompts?|guidelines|directions|programming|constraints|restrictions|guardrails)\b",
    r"(?:^|\n|\.\s)\s*(?:system|assistant|developer|admin)\s*(?:message|prompt)?\s*:",
    r"\[/?(?:system|inst)\]|<\|?\s*(?:system|im_start|im_end)",
    r"\byou are (?:now|no longer)\b",
    r"\b(?:ignore|disregard|forget)\s+(?:the|everything|all|what(?:s| is))\s+(?:above|previous|before|said)\b",
    r"\b(?:pretend|act|behave|roleplay|role play)\s+(?:to be|as if|as|like)\b",
    r"\b(?:developer|god|dan|jailbreak|unrestricted|debug)\s+mode\b",
    r"\b(?:reveal|show|print|repeat|output|tell me)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+|hidden\s+|initial\s+)?(?:prompt|instructions|rules)\b",
    r"\bnew (?:instructions|rules|persona)\b",
    r"\bfrom now on\b.{0,40}\b(?:you|answer|respond|say|reply)\b",
    r"\bdo anything now\b|\bwithout (?:any )?(?:restrictions|filters|rules|limits)\b",
    r"\bmake up\b.{0,30}\b(?:numbers?|figures?|statistics?|studies|results)\b",
]

PERSONAL_ADVICE_PATTERNS = [
    r"\bshould (?:i|my \w+|we)\b",
    r"\b(?:am i|would i be|is my \w+|are we)\s+(?:a\s+)?(?:good\s+|suitable\s+|right\s+|possible\s+)?(?:candidate|eligible|suitable)\b",
    r"\b(?:right|good|safe|ok|okay|suitable|worth it|a good idea|smart|wise)\s+for me\b",
    r"\b(?:will|would|could|can|might)\s+(?:it|this|that|they|stem cells?|the (?:treatment|injection|therapy|procedure|cells))\s+(?:\w+\s+)?(?:help|work for|fix|cure|heal)\s+(?:me|my)\b",
    r"\bwhat (?:dose|dosage|amount|number of cells)\b.{0,25}\b(?:should|do|would|could|can) i\b",
    r"\bhow (?:much|many)\b.{0,40}\b(?:should|do|would) i (?:get|take|need|have)\b",
    r"\bcan i (?:stop|quit|reduce|come off|skip|cut down|cut back|get off|drop|mix|combine|replace)\b",
    r"\bdo you (?:recommend|suggest|think i|advise)\b|\bwhat would you (?:do|recommend|suggest)\b",
    r"\b(?:is it|would it be)\s+(?:safe|ok|okay|wise|a good idea|worth it)\s+(?:for me|if i)\b",
    r"\b(?:tell me|decide) (?:if|whether) i\b|\bdiagnose me\b|\bwhat do i have\b",
    r"\b(?:is this|is that|is it) worth (?:it|trying) for me\b",
    r"\bwhich (?:one|treatment|option|study) (?:should i|is best for me)\b",
]

OFF_TOPIC_PATTERNS = [
    r"\b(?:write|compose|make|create|give)\b.{0,20}\b(?:poem|song|story|joke|essay|haiku|limerick|rap|lyrics)\b",
    r"\btell me a (?:joke|story)\b",
    r"\b(?:weather|forecast)\b",
    r"\b(?:python|javascript|java|sql|html|css|regex|c\+\+)\b",
    r"\b(?:write|fix|debug|generate)\b.{0,30}\b(?:code|program|script|function|app)\b",
    r"\b(?:recipe|cook|bake|baking|dinner)\b",
    r"\b(?:capital of|president of|prime minister|who won|world cup|super bowl|premier league|nba|nfl)\b",
    r"\b(?:stock|stocks|bitcoin|crypto\w*|invest\w*)\b",
    r"\btranslate\b|\bhomework\b|\bsolve (?:this|for)\b",
    r"\b(?:movie|film|tv show|netflix|series|book) (?:to watch|to read|recommendations?|suggestions?)\b",
    r"\b(?:flight|hotel|vacation|holiday|restaurant)s?\b",
    r"\bwhat time is it\b|\bwho are you dating\b",
]

NEGATORS = frozenset(
    [
        "no",
        "not",
        "never",
        "without",
        "dont",
        "didnt",
        "doesnt",
        "havent",
        "hasnt",
        "hadnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "nor",
        "denies",
        "deny",
        "none",
        "zero",
        "neither",
    ]
)
_CLAUSE_BREAK = re.compile(r"[.,;:!?\n]|\b(?:but|though|although|however|except|yet)\b")
_FIRST_PERSON = re.compile(
    r"\b(?:i|im|ive|id|ill|me|my|mine|myself|we|our|us|someone|somebody|mom|mum|dad|husband|wife|"
    r"partner|son|daughter|friend)\b"
)
_GENERAL_QUESTION = re.compile(
    r"\b(?:can|could|does|do|did|will|would|is|are|was|were|any|what|how|which)\b.{0,60}"
    r"\b(?:cause\w*|lead to|result in|side effects?|risks?|adverse|complications?|linked|report\w*|"
    r"studies|study|trials?|patients|people|participants|measure\w*)\b"
)
_SENTENCES = re.compile(r"(?<=[.!?\n])\s+")


@dataclass(frozen=True)
class SafetyVerdict:
    """What the gate decided; ``category`` is None when the message may go on to retrieval."""

    category: str | None
    reasons: tuple[str, ...] = ()
    also_crisis: bool = False


def normalize(text: str) -> str:
    """Lower case, straight apostrophes dropped ("can't" -> "cant"), spaces folded."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"(\w)'(\w)", r"\1\2", text)
    return re.sub(r"[ \t]+", " ", text)


def _negated(text: str, start: int) -> bool:
    """A negator within four words before ``start`` and inside the same clause."""
    before = text[max(0, start - 60) : start]
    clause = _CLAUSE_BREAK.split(before)[-1]
    words = re.findall(r"[a-z]+", clause)[-4:]
    return any(w in NEGATORS for w in words)


def _sentence_of(text: str, pos: int) -> str:
    start = 0
    for m in _SENTENCES.finditer(text):
        if m.start() >= pos:
            return text[start : m.start()]
        start = m.end()
    return text[start:]


def _find(patterns: list[str], text: str, *, symptom: bool) -> bool:
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            if _negated(text, m.start()):
                continue
            if symptom:
                sentence = _sentence_of(text, m.start())
                if _GENERAL_QUESTION.search(sentence) and not _FIRST_PERSON.search(sentence):
                    continue
            return True
    return False


def check(message: str) -> SafetyVerdict:
    """Classify a patient message; emergency wins over everything, then crisis."""
    text = normalize(message)
    flags = tuple(name for name, pats in RED_FLAGS.items() if _find(pats, text, symptom=True))
    crisis = _find(CRISIS_PATTERNS, text, symptom=False)
    if flags:
        return SafetyVerdict(EMERGENCY, flags, also_crisis=crisis)
    if crisis:
        return SafetyVerdict(CRISIS, ("self-harm",))
    if _find(INJECTION_PATTERNS, text, symptom=False):
        return SafetyVerdict(PROMPT_INJECTION, ("instructions in the message",))
    if _find(OFF_TOPIC_PATTERNS, text, symptom=False):
        return SafetyVerdict(OUT_OF_SCOPE, ("off-topic request",))
    if _find(PERSONAL_ADVICE_PATTERNS, text, symptom=False):
        return SafetyVerdict(PERSONAL_ADVICE, ("asks for a personal decision",))
    return SafetyVerdict(None)

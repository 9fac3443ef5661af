"""Boilerplate rules, as data: each a named pattern with a short reason.

The cleaner (`pipeline.document.clean`) applies them line by line to text that extraction produced, and counts every
removal by rule name so the run's ledger shows which rules fire where. Patterns are general shapes of comment
prompts, share/follow prompts, post navigation, related-article lists and bylines, never one site's strings.
Line rules match the whole line (after whitespace is collapsed), so article sentences that merely mention
"comments" or "Facebook" are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.document.needed import caseless, caseless_needed, searched_part, top_alternatives
from pipeline.document.phrases import COMMENT_ACTIONS, COMMENT_WORDS, PHRASE_RULES, RELATIVE_TIME
from pipeline.models import Block
from pipeline.text import ends_as_sentence, unspaced_letters

_SOCIAL = r"(?:facebook|twitter|x|instagram|linkedin|youtube|tiktok|telegram|whatsapp|threads|pinterest|reddit|bluesky|mastodon|flipboard|google news)"
_MONTH = (
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b"
)
_DATE_WORD = (
    r"(?:\d{1,4}(?:st|nd|rd|th)?|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?"
    r"|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|a\.?m\.?|p\.?m\.?|at|on|utc|gmt|[ecmp][sd]t"
    r"|bst|cet|cest|ist|jst|kst|aest)\b"
)
_PUNCT = r"[\s.!:;,»«›‹>→←|•·\-–—]*"  # decoration around prompts: arrows, bullets, dashes


@dataclass(frozen=True)
class LineRule:
    name: str
    reason: str
    pattern: re.Pattern[str]  # the whole line, decoration included: what the rule means
    max_words: int = 40  # a line longer than this is article text, whatever it matches
    # The pattern's alternatives shaped `.*X.*`, as X searched: on a line without a newline the same test, in one
    # pass instead of trying X at every offset of the backtracking `.*`. For a phrase rule shaped `within`, the
    # whole pattern.
    anywhere: re.Pattern[str] | None = None
    # The pattern's other alternatives, fully matched; None when `anywhere` is the whole pattern.
    rest: re.Pattern[str] | None = None
    # Strings one of which every match of `anywhere` holds, folded (`pipeline.document.needed`): a line holding
    # none of them, folded alike, is not searched. None: no such strings.
    needed: tuple[str, ...] | None = None

    def matches(
        self, line: str, words: int | None = None, unspaced: int | None = None, folded: str | None = ""
    ) -> bool:
        """`words`, `unspaced` (`unspaced_letters`) and `folded` (`needed.caseless`): the line's, when the caller
        has them (it tries every rule on the line).

        In scripts written without spaces a line is one "word" however long: there each character counts as one.
        """
        if words is None:
            words = len(line.split())
        if words > self.max_words:
            return False
        if not line.isascii():
            if unspaced is None:
                unspaced = unspaced_letters(line)
            if words + unspaced > self.max_words:
                return False
        if self.anywhere is None or "\n" in line:
            return self.pattern.fullmatch(line) is not None
        if self.needed is not None and folded == "":  # "": not given
            folded = caseless(line)
        screened_out = (
            self.needed is not None and folded is not None and not any(s in folded for s in self.needed)
        )
        if not screened_out and self.anywhere.search(line) is not None:
            return True
        return self.rest is not None and self.rest.fullmatch(line) is not None


def _rule(name: str, reason: str, regex: str, max_words: int = 40, anywhere: str | None = None) -> LineRule:
    """A line rule; an `anywhere` regex given is the whole rule (a `within` phrase rule), else the regex's
    alternatives shaped `.*X.*` are split off to be searched."""
    rest = None
    if anywhere is None and (alternatives := top_alternatives(regex)) is not None:
        searched = [x for alt in alternatives if (x := searched_part(alt)) is not None]
        if searched:
            anywhere = "|".join(f"(?:{x})" for x in searched)
            others = [alt for alt in alternatives if searched_part(alt) is None]
            if others:
                rest = re.compile(_PUNCT + "(?:" + "|".join(others) + ")" + _PUNCT, re.IGNORECASE)
    found = re.compile(anywhere, re.IGNORECASE) if anywhere is not None else None
    needed = caseless_needed(anywhere) if anywhere is not None else None
    whole = re.compile(_PUNCT + regex + _PUNCT, re.IGNORECASE)
    return LineRule(name, reason, whole, max_words, found, rest, needed)


LINE_RULES: tuple[LineRule, ...] = (
    _rule(
        "comment_prompt",
        "invitation to comment, comment form text, comment count or moderation notice",
        r"(?:(?:post|leave|add|write|submit|share)\s+(?:a|your|the\s+first)\s+(?:comment|reply|response|thoughts?)"
        r"|(?:join|start)\s+the\s+(?:conversation|discussion)"
        r"|comments?\s*(?:\(\s*\d+\s*\)|:?\s*\d+)?|\d+\s+(?:comments?|replies|responses)"
        r"|(?:show|view|load|see|read)\s+(?:all\s+)?(?:\d+\s+)?(?:comments?|replies)"
        r"|comments\s+are\s+closed|be\s+the\s+first\s+to\s+comment|no\s+comments(?:\s+yet)?"
        r"|(?:cancel|log\s+in\s+to|sign\s+in\s+to)\s+(?:reply|comment)"
        r"|your\s+email\s+address\s+will\s+not\s+be\s+published\.?(?:\s*required\s+fields\s+are\s+marked\s*\*?)?"
        r"|required\s+fields\s+are\s+marked\s*\*?"
        r"|tell\s+us\s+what\s+you\s+think.*|what\s+do\s+you\s+think\?"
        r"|(?:like|liked|enjoy|enjoyed|love)\s+this\s+(?:story|article|post)\?.*"
        r"|.*\b(?:comments?|comentários?|comentarios?|commentaires?|kommentare?)\b.*\bmodera\w*.*"
        # a comment system's account prompts: "... before commenting", "log in to comment", "display name"
        r"|.*\bbefore\s+commenting\b.*|.*\b(?:log\s*in|sign\s+in|register)\b.*\bto\s+comment\b.*"
        r"|(?=.*\b(?:comment\w*|log\s*in|log\s*out|prompted)\b).*\bdisplay\s+name\b.*)",
        max_words=20,
    ),
    _rule(
        "post_navigation",
        "previous/next post links",
        r"(?:(?:previous|prev|next|older|newer)\s+(?:post|article|story|entry|page)"
        r"(?:" + _PUNCT + r"(?:previous|prev|next|older|newer)\s+(?:post|article|story|entry|page))?)",
        max_words=8,
    ),
    _rule(
        "share_prompt",
        "share buttons and share prompts",
        r"(?:(?:share|tweet|email|print|save)(?:\s+(?:this|the)(?:\s+(?:article|story|post|page|information|\w+))?)?"
        r"(?:,?\s+please)?\??"
        r"(?:\s+(?:on|via|to)\s+" + _SOCIAL + r")?"
        r"|(?:click|tap)\s+to\s+(?:share|email|print)\b.*"
        r"|share\s+(?:it|this(?:\s+\w+)?)\s+with\s+(?:a\s+friend|friends|your\s+friends).*"
        r"|(?:order\s+)?reprints?|print\s+(?:this\s+)?(?:article|story|page)|copy\s+link|permissions"
        r"|" + _SOCIAL + r"(?:" + _PUNCT + r"(?:" + _SOCIAL + r"|email|copy\s+link|print))+)",
        max_words=20,
    ),
    _rule(
        "follow_prompt",
        "follow/like-us, newsletter and social-media prompts",
        r"(?:.*\b(?:like|follow|join|find|connect\s+with)\s+us\s+(?:on|at)\b.*"
        r"|.*\bfollow\s+(?:us|@\w+)\b.*\b" + _SOCIAL + r"\b.*"
        r"|.*\b(?:subscribe|sign\s+up)\s+(?:to|for)\s+(?:our|the)\b.*\b(?:channel|updates|alerts)\b.*"
        r"|for\s+(?:the\s+latest|breaking|more)\s+news\b.*\b" + _SOCIAL + r"\b.*"
        r"|(?:follow|reach|more)\b.{0,80}\s(?:at|on|:)\s+https?://\S+.*"
        r"|.*\bfollow\s+.{1,40}\s+on\s+google\s+news\b.*|.*\badd\s+us\s+as\s+a\s+preferred\s+source\b.*)",
        max_words=60,
    ),
    _rule(
        "avatar_byline",
        "author avatar caption (the name is kept as the author)",
        r"(?-i:(?P<author>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}))\s+avatar",
        max_words=6,
    ),
    _rule(
        "newsletter_prompt",
        "newsletter sign-up prompts and their form messages",
        r"(?:.*\b(?:subscrib\w*|sign(?:ing)?\s+up|delivered|get|receive)\b.*\b(?:newsletters?|inbox|e-?mail\s+updates)\b.*"
        r"|.*\b(?:newsletters?|inbox)\b.*\b(?:subscrib\w*|sign(?:ing)?\s+up)\b.*"
        # a prompt to sign up for news, not the verb in a sentence ("you can sign up for a ...")
        r"|(?:sign\s+up|subscribe)\s+(?:for|to)\s+(?:(?:our|the|free|\w+,?)\s+){0,3}(?:news|updates|alerts)\b.*"
        r"|thanks?(?:\s+you)?\s+for\s+(?:signing\s+up|subscribing)\b.*|.*\berror\s+processing\s+your\s+subscription\b.*"
        r"|keep\s+an\s+eye\s+on\s+your\s+inbox\b.*|an\s+error\s+has\s+occurred,?\s+please\s+try\s+again.*"
        r"|this\s+(?:article|story)\s+has\s+been\s+sent\s+to.*)",
        max_words=30,
    ),
    _rule(
        "related_link",
        "an inline pointer to another article ('Read more: ...', 'Related: ...', 'Also on ...')",
        r"(?:(?:read|see|watch|listen)\s+(?:more|also|next)|related(?:\s+\w+)?"
        r"|also\s+read|more\s+on\s+this(?:\s+story)?|recommended|(?:leggi|lesen\s+sie|lire|leia|lea|lees)\s+"
        r"(?:anche|auch|aussi|tamb[eé]m|tambi[eé]n|ook)(?:\s+su)?)\s*[:|—–]\s*.{3,300}"
        r"|also\s+on\s+[\w-]+(?:\.[\w-]+)+\s+.{3,300}|explore\s+further|don['’]?t\s+miss|most\s+read\s+in\s+.{1,40}",
        max_words=40,
    ),
    _rule(
        "click_prompt",
        "'click here' and get-our-app promotions",
        r"(?:.*\b(?:click|tap)(?:ing)?\s+here\b.*|(?:get|download)\s+(?:the|our)\s+.{0,40}\bapps?\b.*)",
        max_words=25,
    ),
    _rule(
        "credit_line",
        "reporting and editing credits",
        r"(?:\(?(?:(?:additional\s+)?reporting|writing|editing|compiled|produced)\s+by\b.*"
        r"|.*\bcontributed\s+(?:reporting\s+)?to\s+this\s+(?:report|story|article)\.?\)?)",
        max_words=60,
    ),
    _rule(
        "contact_line",
        "how to reach the author or newsroom (a line with an e-mail address)",
        r".*[\w.+-]+@[\w-]+(?:\.[\w-]+)+.*",
        max_words=40,
    ),
    _rule(
        "social_profile",
        "the address of a social-network profile alone on a line (the author's or the outlet's handle)",
        r"(?:https?://)?(?:www\.)?(?:twitter|x|facebook|instagram|linkedin|tiktok|threads|bsky|youtube)\.(?:com|net|app)"
        r"/(?:in/|@)?[\w.-]{1,40}/?",
        max_words=1,
    ),
    _rule(
        "address_list",
        "a short line that is two or more web addresses under a label ('More news: https://... and https://...')",
        r"(?=(?:.*?https?://){2}).{0,60}?https?://\S+(?:\s+(?:and|&|,|\||or)?\s*https?://\S+)+",
        max_words=14,
    ),
    _rule(
        "timestamp",
        "a line that is only a date or time, perhaps 'Updated'/'Published'",
        r"(?=.*\d)(?=.*(?:\b(?:updated|published|posted|modified)\b|"
        + _MONTH
        + r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b))"
        r"(?:(?:last\s+)?(?:updated|published|posted|modified|first\s+published)\s*(?:on|at)?\s*:?\s*)?"
        r"(?:" + _DATE_WORD + r"[\s,./:|()–-]*){1,14}"
        r"|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?",
        max_words=16,
    ),
    _rule(
        "media_url",
        "a line that is only the address of an image or media file (page metadata)",
        r"(?:https?:)?//\S+\.(?:jpe?g|png|gif|webp|svg|avif|mp4|mp3)(?:[?#]\S*)?",
        max_words=1,
    ),
    _rule("lone_by", "a byline prefix whose name was elsewhere", r"by", max_words=1),
    _rule(
        "advertisement",
        "advertisement label",
        r"(?:advertisement|advertisements|advertising|sponsored(?:\s+content)?|ad|story\s+continues\s+below"
        r"(?:\s+(?:this\s+)?advertisement)?)",
        max_words=6,
    ),
    _rule(
        "copyright",
        "copyright footer",
        r"(?:(?:©|\(c\)|copyright)\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?.*|.*\ball\s+rights\s+reserved\b.*)",
        max_words=30,
    ),
    _rule(
        "reprint_notice",
        "terms-of-use notice for personal, non-commercial copies",
        r"this\s+copy\s+is\s+for\s+your\s+personal,?\s+non-?commercial\s+use\b.*",
        max_words=80,
    ),
    _rule(
        "photo_credit",
        "photo or image credit",
        r"(?:(?:photo|image|picture|photograph|video)s?(?:\s+credits?)?\s*(?::|/|by)\s*.{1,120}"
        r"|\(?(?:getty\s+images|reuters|ap\s+photo|afp(?:\s+via\s+getty\s+images)?|shutterstock)\)?"
        r"|.*\b(?:photos?|images?|pictures?)\s*(?:©|\(c\)|courtesy(?:\s+of)?)\s*.{1,80}"
        r"|.*[a-z]\.(?:reuters|getty\s+images|ap\s+photo|afp|shutterstock|associated\s+press))",
        max_words=30,
    ),
    # Shapes that need no language: a player's length ("02:57 Min.", "05.09.2024 | 2:03 min"), a newsroom's
    # initials alone ("(dpa)"). Not an embedded post's signature ("— Jane Doe (@jdoe) August 5, 2024"): AEB's
    # labels keep embedded posts whole (7 pages lost up to 0.06 F1 without it; fundus gained 0.0001).
    _rule(
        "media_duration",
        "a video or audio player's length, perhaps with its date or availability",
        r"(?:[\d./-]{6,10}\s*[|•·,]?\s*)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:min|mins|minutes?|minuten|minutos|мин|分)\.?"
        r"(?:\W+\w+\W+(?:bis|until|jusqu['’]au|hasta|fino\s+al)\s+[\d./-]{6,10})?",
        max_words=8,
    ),
    _rule(
        "media_teaser",
        "a video or audio teaser: its text, then the player's date and length ('... 18.04.2024 | 0:21 min')",
        r".{10,600}?\s[\d./-]{6,10}\s*[|•·]\s*\d{1,2}:\d{2}(?::\d{2})?\s*(?:min|mins|minutes?|minuten|minutos|мин|分)\.?",
        max_words=80,
    ),
    _rule(
        "teaser_card",
        "a teaser card's title shown twice in a row (its picture's text, then its link)",
        r"(?P<card>\S.{10,150}?[^\s.])\s+(?P=card)",  # a title: not a sentence ending with a full stop
        max_words=60,
    ),
    _rule(
        "newsroom_initials",
        "an agency's or editor's initials alone in brackets at a paragraph's place ('(dpa)', '(dmk/red)')",
        r"\(\s*[a-zäöüß]{2,6}(?:\s*[/,]\s*[a-zäöüß]{2,6}){0,3}\s*\)",
        max_words=4,
    ),
    _rule(
        "tags_line",
        "tag and category lists",
        r"(?:tags?|tagged(?:\s+with)?|filed\s+under|categories|category|topics)(?:\s*:.{0,300})?",
        max_words=40,
    ),
)

_SHAPES = {
    "whole": "(?:{phrases})",
    "lead": r"(?:{phrases})(?:\s*[:：|–—»>/]\s*.{{1,300}})?",
    "lead_date": r"(?:{phrases})\s*.{{0,60}}\d.{{0,40}}",
    "within": ".*(?:{phrases}).*",
}
# A credit needs its separator ("Foto: dpa", "Fot. PAP"): "Foto" alone is a label, "Foto des Jahres" prose.
_CAPTION = r"(?:{phrases})(?:\s*[:：=/|©]|(?<=\.))\s*.{{1,120}}"


def _phrase_rule(
    name: str, reason: str, shape: str, max_words: int, by_language: dict[str, list[str]]
) -> LineRule:
    phrases = "|".join(p for language in sorted(by_language) for p in by_language[language])
    template = _CAPTION if name == "credit_caption" else _SHAPES[shape]
    anywhere = f"(?:{phrases})" if shape == "within" else None  # the same test as `.*(?:phrases).*`, faster
    return _rule(name, reason, template.format(phrases=phrases), max_words, anywhere)


# The phrase rules of the main news languages (`pipeline.document.phrases`), after the English ones above.
LINE_RULES = LINE_RULES + tuple(_phrase_rule(name, *spec) for name, spec in PHRASE_RULES.items())
LINE_RULE_WORDS = max(rule.max_words for rule in LINE_RULES)  # no line rule matches a line of more words

# A heading that introduces a list of other articles ("Keep reading", "Related stories", ...). The heading and
# the list items under it are removed together, as one block.
RELATED_HEADING = re.compile(
    _PUNCT
    + r"(?:keep\s+reading|read\s+more|continue\s+reading|related(?:\s+(?:articles?|stories|posts|news|coverage|"
    r"content|reading|links))?|more\s+(?:stories|news|articles|headlines|to\s+read|from\s+.{1,40}|on\s+this"
    r"(?:\s+(?:story|topic))?)|you\s+(?:may|might)\s+(?:also\s+)?(?:like|enjoy|be\s+interested\s+in)|"
    r"recommended(?:\s+(?:for\s+you|stories|reading|articles))?|read\s+next|what\s+to\s+read\s+next|"
    r"most\s+(?:read|popular|viewed)|trending(?:\s+(?:now|stories|news))?|also\s+read|see\s+also|"
    r"popular\s+(?:posts|stories|articles)|latest\s+(?:news|stories|posts|articles)|top\s+stories)" + _PUNCT,
    re.IGNORECASE,
)
RELATED_LIST_RULE = "related_list"
RELATED_LIST_REASON = "'keep reading' / related-articles heading and the list under it"
BULLET = re.compile(r"^\s*(?:[•·▪►»◦‣∙*+\-–—]|\d{1,2}[.)])\s+")
MAX_LIST_ITEMS = 15
LINKED_HEADLINE = 0.8  # a line this much inside a link is a pointer to another page

# Head-of-article rules: applied only before the first paragraph of article text.
REPEATED_HEADLINE_RULE = "repeated_headline"
REPEATED_HEADLINE_REASON = "the headline repeated as a body line"
BYLINE_RULE = "byline"
BYLINE_REASON = "'By <name>' line, or Von, Par, Por, Door, Di, Av, Af, Autor (the name is kept as the author)"
BYLINE = re.compile(
    r"(?i:(?:written\s+)?by|von|par|por|door|di|av|af|autor(?:in)?|auteur|yazan):?\s+"
    r"(?P<author>[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|da|del|la|le|du|di|dos|van|von|der|bin|ibn|al|and|&)){0,5})"
    r"(?:\s*(?:[,|•·–—-]|\b(?i:on|updated|published)\b).{0,80})?"
)
NAME = re.compile(r"[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}")  # "Jordan Hayes": 2-4 capitalised words

# Block rules use what the HTML's structure says about a line (see `pipeline.models.Block`): its kind, heading
# level and link share. Plain text has no structure, so they never fire on it.


@dataclass(frozen=True)
class BlockRule:
    name: str
    reason: str
    kinds: frozenset[str]
    min_link_ratio: float = 0.0
    max_words: int = 1000
    head_only: bool = False  # only before the first paragraph of article text
    tail_only: bool = False  # only after the last paragraph of article text
    level: int | None = None  # heading level required, if any
    unless_sentence: bool = False  # a line ending as a sentence is kept
    unless_address: bool = False  # a line showing a web or e-mail address or DOI is a citation: kept

    def matches(self, block: Block, in_head: bool, in_tail: bool = False) -> bool:
        return (
            block.kind in self.kinds
            and (in_tail or not self.tail_only)
            and block.link_ratio >= self.min_link_ratio
            and len(block.text.split()) <= self.max_words
            and (in_head or not self.head_only)
            and (self.level is None or block.level == self.level)
            and not (self.unless_sentence and ends_as_sentence(block.text))
            and not (self.unless_address and _ADDRESS.search(block.text))
        )


_ADDRESS = re.compile(r"://|\bwww\.|\S@\w|\bdoi\b|^\[[^\]]{1,40}\]$", re.IGNORECASE)

BLOCK_RULES: tuple[BlockRule, ...] = (
    BlockRule(
        "lead_heading",
        "the page's top-level heading above the article text (the headline, kept as the title)",
        frozenset({"head"}),
        level=1,
        head_only=True,
    ),
    BlockRule(
        "link_item",
        "a list item that is mostly a link to another page (related stories, navigation)",
        frozenset({"item"}),
        min_link_ratio=0.5,
    ),
    BlockRule(
        "trailing_links",
        "after the article's last paragraph, list items led by a link (more stories, teasers)",
        frozenset({"item"}),
        min_link_ratio=0.25,
        tail_only=True,
    ),
    BlockRule(
        "link_line",
        "a short line that is only a link (related story, tag, promotion)",
        frozenset({"p", "other"}),
        min_link_ratio=0.8,
        max_words=25,
        unless_sentence=True,
        unless_address=True,
    ),
)
DANGLING_HEADING_RULE = "dangling_heading"
DANGLING_HEADING_REASON = "headings left at the very end with nothing under them (widget and sign-up titles)"
OWN_URL_RULE = "own_url"
OWN_URL_REASON = "the article's own address on a line of its own (share widget residue)"
STANDFIRST_RULE = "standfirst"
STANDFIRST_REASON = "a summary set as a heading above the text: the page's meta description"

# A paywall's box: the prompt ends what the page lets one read; under it come its offer (a list of what members
# get, a campaign price, a footnote) and no more article paragraphs.
PAYWALL_BOX_RULE = "paywall_box"
PAYWALL_BOX_REASON = (
    "what follows a paywall prompt to the page's end when no article paragraph does: the offer's list, price "
    "and footnotes"
)
PAYWALL_RULE = "paywall_prompt"
PARAGRAPH_WORDS = 20  # a line this long, with no paywall phrase, is article text: the box stops short of it

# Pointers to other articles set under one label the page repeats: "READ ANOTHER STORY HERE | <headline>", in
# any language; a label is a few words before a bar, and the same label on two lines or more is the template's.
POINTER_LABEL_RULE = "pointer_label"
POINTER_LABEL_REASON = "a label repeated before ' | ' on several lines, each a pointer to another article"
POINTER_LABEL = re.compile(r"(?P<label>[^|]{2,60}?)\s+\|\s+(?P<rest>[^|]+)")
POINTER_LABEL_MAX_WORDS = 6

AUTHOR_BOX_RULE = "author_box"
AUTHOR_BOX_REASON = (
    "the author's box at the end: from a line that starts with the byline's full name "
    '("Ana Ruiz is a reporter ...", or the name alone) to the end'
)
AUTHOR_BOX_LINES = 4  # it starts in the body's last lines

# A comment thread, by its shape: from some line to the page's end, comment furniture (a relative time, a reply
# or like label, perhaps with a count, a user's handle with a time) recurs every few lines.
COMMENT_THREAD_RULE = "comment_thread"
COMMENT_THREAD_REASON = (
    "a thread of reader comments after the article (relative times, reply/like labels recurring)"
)
_COUNT = r"(?:\(?\d+\)?\s*)?"
COMMENT_META = re.compile(
    _PUNCT
    + r"(?:.{0,40}?\b)?(?:"
    + "|".join(RELATIVE_TIME)
    + r")(?:\b.{0,40})?"
    + r"|"
    + _PUNCT
    + _COUNT
    + r"(?:"
    + COMMENT_ACTIONS
    + r")"
    + _PUNCT
    + _COUNT
    + r"(?:(?:"
    + COMMENT_ACTIONS
    + r")"
    + _PUNCT
    + _COUNT
    + r")*",
    re.IGNORECASE,
)
COMMENT_HEADING = re.compile(_PUNCT + _COUNT + r"(?:" + COMMENT_WORDS + r")" + _PUNCT + _COUNT, re.IGNORECASE)

# Applied by dedupe, which knows the site's other articles (`pipeline.dedupe.templates.SiteTemplates.trimmed`).
SITE_TEMPLATE_RULE = "site_template"
SITE_TEMPLATE_REASON = (
    "the site's template: paragraphs two other landed articles of the host carried, that are not prose or that "
    "end the body"
)

RULE_REASONS: dict[str, str] = {
    SITE_TEMPLATE_RULE: SITE_TEMPLATE_REASON,
    COMMENT_THREAD_RULE: COMMENT_THREAD_REASON,
    **{rule.name: rule.reason for rule in LINE_RULES},
    **{rule.name: rule.reason for rule in BLOCK_RULES},
    STANDFIRST_RULE: STANDFIRST_REASON,
    AUTHOR_BOX_RULE: AUTHOR_BOX_REASON,
    PAYWALL_BOX_RULE: PAYWALL_BOX_REASON,
    POINTER_LABEL_RULE: POINTER_LABEL_REASON,
    OWN_URL_RULE: OWN_URL_REASON,
    DANGLING_HEADING_RULE: DANGLING_HEADING_REASON,
    RELATED_LIST_RULE: RELATED_LIST_REASON,
    REPEATED_HEADLINE_RULE: REPEATED_HEADLINE_REASON,
    BYLINE_RULE: BYLINE_REASON,
}

"""Boilerplate rules, as data: each a named pattern with a short reason.

The cleaner (`pipeline.clean`) applies them line by line to text that extraction produced, and counts every
removal by rule name so the run's ledger shows which rules fire where. Patterns are general shapes of comment
prompts, share/follow prompts, post navigation, related-article lists and bylines, never one site's strings.
Line rules match the whole line (after whitespace is collapsed), so article sentences that merely mention
"comments" or "Facebook" are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SOCIAL = r"(?:facebook|twitter|x|instagram|linkedin|youtube|tiktok|telegram|whatsapp|threads|pinterest|reddit|bluesky|mastodon|flipboard|google news)"
_PUNCT = r"[\s.!:;,»«›‹>→←|•·\-–—]*"  # decoration around prompts: arrows, bullets, dashes


@dataclass(frozen=True)
class LineRule:
    name: str
    reason: str
    pattern: re.Pattern[str]
    max_words: int = 40  # a line longer than this is article text, whatever it matches

    def matches(self, line: str) -> bool:
        return len(line.split()) <= self.max_words and self.pattern.fullmatch(line) is not None


def _rule(name: str, reason: str, regex: str, max_words: int = 40) -> LineRule:
    return LineRule(name, reason, re.compile(_PUNCT + regex + _PUNCT, re.IGNORECASE), max_words)


LINE_RULES: tuple[LineRule, ...] = (
    _rule(
        "comment_prompt",
        "invitation to comment, comment form text or comment count",
        r"(?:(?:post|leave|add|write|submit|share)\s+(?:a|your|the\s+first)\s+(?:comment|reply|response|thoughts?)"
        r"|(?:join|start)\s+the\s+(?:conversation|discussion)"
        r"|comments?\s*(?:\(\s*\d+\s*\)|:?\s*\d+)?|\d+\s+(?:comments?|replies|responses)"
        r"|(?:show|view|load|see|read)\s+(?:all\s+)?(?:\d+\s+)?(?:comments?|replies)"
        r"|comments\s+are\s+closed|be\s+the\s+first\s+to\s+comment|no\s+comments(?:\s+yet)?"
        r"|(?:cancel|log\s+in\s+to|sign\s+in\s+to)\s+(?:reply|comment)"
        r"|your\s+email\s+address\s+will\s+not\s+be\s+published\.?(?:\s*required\s+fields\s+are\s+marked\s*\*?)?"
        r"|required\s+fields\s+are\s+marked\s*\*?)",
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
        r"(?:(?:share|tweet|email|print|save)(?:\s+(?:this|the)\s+(?:article|story|post|page))?"
        r"(?:\s+(?:on|via|to)\s+" + _SOCIAL + r")?"
        r"|(?:click|tap)\s+to\s+(?:share|email|print)\b.*"
        r"|" + _SOCIAL + r"(?:" + _PUNCT + r"(?:" + _SOCIAL + r"|email|copy\s+link|print))+)",
        max_words=20,
    ),
    _rule(
        "follow_prompt",
        "follow/like-us, newsletter and social-media prompts",
        r"(?:.*\b(?:like|follow|join|find|connect\s+with)\s+us\s+(?:on|at)\b.*"
        r"|.*\bfollow\s+(?:us|@\w+)\b.*\b" + _SOCIAL + r"\b.*"
        r"|.*\b(?:subscribe|sign\s+up)\s+(?:to|for)\s+(?:our|the)\b.*\b(?:newsletter|channel|updates|alerts)\b.*"
        r"|for\s+(?:the\s+latest|breaking|more)\s+news\b.*\b" + _SOCIAL + r"\b.*)",
        max_words=60,
    ),
    _rule(
        "avatar_byline",
        "author avatar caption (the name is kept as the author)",
        r"(?-i:(?P<author>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){0,3}))\s+avatar",
        max_words=6,
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
        "photo_credit",
        "photo or image credit",
        r"(?:(?:photo|image|picture|photograph|video)s?(?:\s+credits?)?\s*(?::|/|by)\s*.{1,120}"
        r"|\(?(?:getty\s+images|reuters|ap\s+photo|afp(?:\s+via\s+getty\s+images)?|shutterstock)\)?)",
        max_words=20,
    ),
    _rule(
        "tags_line",
        "tag and category lists",
        r"(?:tags?|tagged(?:\s+with)?|filed\s+under|categories|category|topics)\s*:.{0,300}",
        max_words=40,
    ),
)

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

# Head-of-article rules: applied only before the first paragraph of article text.
REPEATED_HEADLINE_RULE = "repeated_headline"
REPEATED_HEADLINE_REASON = "the headline repeated as a body line"
BYLINE_RULE = "byline"
BYLINE_REASON = "'By <name>' line (the name is kept as the author)"
BYLINE = re.compile(
    r"(?i:(?:written\s+)?by:?)\s+"
    r"(?P<author>[A-Z][\w'’.-]+(?:\s+(?:[A-Z][\w'’.-]+|de|da|del|la|le|du|di|dos|van|von|der|bin|ibn|al|and|&)){0,5})"
    r"(?:\s*(?:[,|•·–—-]|\b(?i:on|updated|published)\b).{0,80})?"
)
NAME = re.compile(r"[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){1,3}")  # "Jordan Hayes": 2-4 capitalised words

RULE_REASONS: dict[str, str] = {
    **{rule.name: rule.reason for rule in LINE_RULES},
    RELATED_LIST_RULE: RELATED_LIST_REASON,
    REPEATED_HEADLINE_RULE: REPEATED_HEADLINE_REASON,
    BYLINE_RULE: BYLINE_REASON,
}

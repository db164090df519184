"""An article's Markdown as the HTML the mini-program's rich-text shows, sanitised; as plain text; and a
search result's words highlighted. Pure functions: no database, no Flask.

Markdown is parsed by markdown-it-py (CommonMark with tables) with raw HTML disabled, so a <script> typed in
the text is shown as text; the HTML that comes out is then cleaned by nh3 (ammonia) down to the tags and
attributes of rich-text, so that nothing the parser lets through by mistake can run either. Images are only
ever our own uploads: the Markdown names one by its public address (IMAGE_PATH + the upload's id), and each
page that shows it says where that image is served for its readers (`image_url`)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

# The public address of an article's image, as the Markdown refers to it (miniprogram_api/articles.py serves
# it to anyone while a published article shows it; the console serves it to the studio and the bureau).
IMAGE_PATH = "/api/mp/v1/articles/images/"
IMAGE_REF = re.compile(r"^" + re.escape(IMAGE_PATH) + r"([0-9a-f]{32})$")

# What WeChat's rich-text component shows (and nothing that could run or restyle the page).
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "del", "ins",
        "blockquote", "ul", "ol", "li", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "hr",
        "img", "a", "span", "div", "sub", "sup",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt", "width", "height"}}
LINK_SCHEMES = ("http://", "https://")

ImageUrl = Callable[[str], str]  # an upload's id → the address a page shows it from


@cache
def _parser() -> MarkdownIt:
    # html off: raw HTML in the text is escaped, never passed through; linkify and typographer off: the
    # text says what it says
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.add_render_rule("s_open", _deleted)  # ~~text~~ as <del>, which rich-text shows (it has no <s>)
    parser.add_render_rule("s_close", _deleted)
    return parser


def _deleted(renderer: object, tokens: Sequence[Token], idx: int, _options: object, _env: object) -> str:
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


def _inline_tokens(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        if token.children:
            yield from _inline_tokens(token.children)
        yield token


def image_sources(markdown: str) -> list[str]:
    """The address of every image in the text, in order, as written."""
    tokens = _parser().parse(markdown)
    return [str(t.attrGet("src") or "") for t in _inline_tokens(tokens) if t.type == "image"]


def upload_ids(markdown: str) -> list[str]:
    """The ids of our own uploads the text shows, each once, in order."""
    ids = (m.group(1) for src in image_sources(markdown) if (m := IMAGE_REF.match(src)))
    return list(dict.fromkeys(ids))


def foreign_images(markdown: str) -> list[str]:
    """The images of the text that are not our uploads (a save refuses them; a preview leaves them out)."""
    return [src for src in image_sources(markdown) if not IMAGE_REF.match(src)]


def image_markdown(upload_id: str, alt: str = "") -> str:
    """The Markdown of an uploaded image, to put in an article's text."""
    alt = re.sub(r"[\[\]\\\n]", "", alt).strip() or "图片"
    return f"![{alt}]({IMAGE_PATH}{upload_id})"


def _alt_text(token: Token) -> str:
    return "".join(child.content for child in token.children or []) or token.content


def _place_images(tokens: list[Token], image_url: ImageUrl | None) -> set[str]:
    """Point our images at the page's address for them; anything else becomes its description in brackets.
    Returns the addresses written, the only ones the sanitiser lets an <img> keep."""
    shown: set[str] = set()
    for token in tokens:
        children = token.children
        if not children:
            continue
        for position, child in enumerate(children):
            if child.type != "image":
                continue
            match = IMAGE_REF.match(str(child.attrGet("src") or ""))
            if match is None:
                text = Token("text", "", 0)
                text.content = f"[图片：{_alt_text(child)}]" if _alt_text(child) else "[图片]"
                children[position] = text
                continue
            url = image_url(match.group(1)) if image_url else match.group(0)
            child.attrSet("src", url)
            shown.add(url)
    return shown


def sanitise(fragment: str, images: Sequence[str] | set[str] = ()) -> str:
    """`fragment` cleaned to the tags and attributes rich-text shows: links to http(s) only, images only from
    the addresses in `images`, no style, no class, no event handler, no script or style content, no comment."""
    allowed_images = set(images)

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "a" and attribute == "href":
            return value if value.strip().lower().startswith(LINK_SCHEMES) else None
        if tag == "img" and attribute == "src":
            return value if value in allowed_images else None
        if tag == "img" and attribute in ("width", "height"):
            return value if value.isdigit() and len(value) <= 4 else None
        return value

    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=keep,
        strip_comments=True,
        link_rel=None,
        url_schemes={"http", "https"},
    )


def render_html(markdown: str, image_url: ImageUrl | None = None) -> str:
    """The text as sanitised HTML. `image_url` gives the address of an uploaded image for the page showing
    it (by default the public address the Markdown names)."""
    parser = _parser()
    tokens = parser.parse(markdown)
    shown = _place_images(tokens, image_url)
    return sanitise(parser.renderer.render(tokens, parser.options, {}), shown)


_BLOCK_ENDS = {"paragraph_close", "heading_close", "list_item_close", "tr_close", "blockquote_close"}


def plain_text(markdown: str) -> str:
    """The words of the text without its markup (an image is its description): for search, excerpts and the
    bot. Blocks are separate lines; table cells are separated by spaces."""
    parts: list[str] = []
    for token in _parser().parse(markdown):
        if token.type == "inline":
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    parts.append(child.content)
                elif child.type == "image":
                    parts.append(_alt_text(child))
                elif child.type in ("softbreak", "hardbreak"):
                    parts.append("\n")
            parts.append(" ")
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
        if token.type in _BLOCK_ENDS or token.type in ("fence", "code_block"):
            parts.append("\n")
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in "".join(parts).splitlines())
    return "\n".join(line for line in lines if line)


def highlight(text: str, words: Iterable[str]) -> str:
    """`text` as HTML with every occurrence of `words` (any case) in <em>: all of it escaped, so that the only
    markup in the result is ours."""
    pattern = _words_pattern(words)
    if pattern is None:
        return html.escape(text, quote=False)
    out: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[position : match.start()], quote=False))
        out.append(f"<em>{html.escape(match.group(), quote=False)}</em>")
        position = match.end()
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


def _words_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    unique = sorted({w for w in words if w}, key=len, reverse=True)  # the longest first: 阳光房 before 阳光
    if not unique:
        return None
    return re.compile("|".join(re.escape(w) for w in unique), re.IGNORECASE)


def excerpt(text: str, words: Iterable[str], width: int = 80) -> str:
    """About `width` characters of `text` around the first of `words` it contains (its start if none), with
    … where it was cut."""
    text = re.sub(r"\s+", " ", text).strip()
    pattern = _words_pattern(words)
    match = pattern.search(text) if pattern else None
    start = 0 if match is None else max(0, match.start() - width // 4)
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    cut = text[start:end]
    return ("…" if start > 0 else "") + cut + ("…" if end < len(text) else "")

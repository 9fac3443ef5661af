"""The boilerplate phrases of the main news languages (pipeline/document/phrases.py): an example written here for
every language of every rule is removed, and article prose that uses the same words is kept."""

import pytest

from pipeline.document.clean import clean_lines
from pipeline.document.phrases import PHRASE_RULES
from pipeline.document.rules import LINE_RULES
from pipeline.text import unspaced_letters

EXAMPLES: dict[str, dict[str, str]] = {
    "read_also": {
        "en": "Read also: Council approves the new budget",
        "de": "Lesen Sie auch",
        "fr": "À lire aussi",
        "es": "Noticia relacionada: El Gobierno aprueba el presupuesto",
        "it": "Leggi anche",
        "pt": "Leia também: Governo aprova orçamento",
        "nl": "Lees ook",
        "pl": "Czytaj więcej",
        "ru": "Читайте также: Правительство утвердило бюджет",
        "tr": "Ayrıca okuyun",
        "ar": "اقرأ أيضاً",
        "ja": "関連記事",
        "zh": "相关阅读",
        "ko": "관련기사",
    },
    "paywall_prompt": {
        "en": "Already a subscriber? Log in",
        "de": "Jetzt abonnieren und weiterlesen",
        "fr": "Cet article est réservé aux abonnés",
        "es": "Suscríbete para seguir leyendo",
        "it": "Sei già abbonato? Accedi",
        "pt": "Já é assinante? Entre",
        "nl": "Word abonnee en lees verder",
        "pl": "Wykup dostęp, aby czytać dalej",
        "ru": "Оформите подписку, чтобы читать дальше",
        "tr": "Abone ol, okumaya devam et",
        "ar": "اشترك الآن لمتابعة القراءة",
        "ja": "この記事は会員限定です。",
        "zh": "付费阅读全文",
        "ko": "유료회원 전용 기사입니다",
    },
    "support_prompt": {
        "en": "Please support our journalism with a gift today.",
        "de": "Unabhängiger Journalismus braucht deine Unterstützung.",
        "fr": "Soutenez-nous : faites un don.",
        "es": "Apoya el periodismo independiente: haz una donación.",
        "it": "Sostieni il giornalismo: fai una donazione.",
        "pt": "Apoie o jornalismo independente.",
        "nl": "Steun ons met een bijdrage.",
        "pl": "Wesprzyj nas już dziś.",
        "ru": "Поддержите нас — это важно.",
        "tr": "Bağımsız gazeteciliğe destek olun.",
        "ar": "ادعم الصحافة المستقلة",
        "ja": "ご支援をお願いします。",
        "zh": "支持我们的新闻报道",
        "ko": "후원하기",
    },
    "rating_prompt": {
        "en": "Was this article helpful?",
        "de": "Wie hat Ihnen dieser Artikel gefallen?",
        "fr": "Cet article vous a-t-il plu ?",
        "es": "¿Te ha gustado este artículo?",
        "it": "Ti è piaciuto questo articolo?",
        "pt": "Gostou deste artigo?",
        "nl": "Vond je dit artikel nuttig?",
        "pl": "Czy ten artykuł był pomocny?",
        "ru": "Понравилась статья?",
        "tr": "Bu haberi beğendiniz mi?",
        "ar": "هل أعجبك المقال؟",
        "ja": "この記事は役に立ちましたか？",
        "zh": "这篇文章对你有帮助吗？",
        "ko": "이 기사가 도움이 되셨나요?",
    },
    "reading_time": {
        "en": "4 min read",
        "de": "3 Minuten Lesezeit",
        "fr": "5 min de lecture",
        "es": "6 minutos de lectura",
        "it": "4 minuti di lettura",
        "pt": "3 min de leitura",
        "nl": "2 min leestijd",
        "pl": "5 min czytania",
        "ru": "3 минуты на чтение",
        "tr": "4 dk okuma",
        "ar": "5 دقائق للقراءة",
        "ja": "3分で読めます",
        "zh": "阅读时间：5分钟",
        "ko": "3분 분량",
    },
    "dateline": {
        "en": "First published on 12 May 2026",
        "de": "Veröffentlicht am 13. Mai 2026 um 15:44",
        "fr": "Publié le 13 mai 2026 à 15h44",
        "es": "Actualizado el 13 de mayo de 2026, 15:44",
        "it": "Pubblicato il 13 maggio 2026",
        "pt": "Atualizado em 13/05/2026 15h44",
        "nl": "Gepubliceerd op 13 mei 2026",
        "pl": "Opublikowano: 13.05.2026 15:44",
        "ru": "Обновлено 13 мая 2026, 15:44",
        "tr": "Güncelleme: 13.05.2026 15:44",
        "ar": "آخر تحديث 13 مايو 2026",
        "ja": "公開日：2026年5月13日",
        "zh": "发布时间：2026-05-13 15:44",
        "ko": "입력 2026.05.13 15:44",
    },
    "copied_notice": {
        "en": "Link copied to clipboard",
        "de": "Link in die Zwischenablage kopiert",
        "fr": "Lien copié",
        "es": "Enlace copiado",
        "it": "Link copiato negli appunti",
        "pt": "Link copiado",
        "nl": "Link gekopieerd",
        "pl": "Link skopiowany",
        "ru": "Ссылка скопирована",
        "tr": "Bağlantı kopyalandı",
        "ar": "تم نسخ الرابط",
        "ja": "リンクをコピーしました",
        "zh": "链接已复制",
        "ko": "기사 URL이 복사되었습니다.",
    },
    "follow_social": {
        "de": "Folgst du schon 20 Minuten auf Whatsapp?",
        "fr": "Suivez-nous sur Instagram",
        "es": "Síguenos en TikTok",
        "it": "Seguici su Facebook",
        "pt": "Siga-nos no Instagram",
        "nl": "Volg ons op Instagram",
        "pl": "Obserwuj nas na Facebooku",
        "ru": "Подписывайтесь на наш Telegram-канал",
        "tr": "Bizi Instagram hesabımızdan takip edin",
        "ar": "تابعونا على فيسبوك",
        "ja": "公式Xでフォローしてください",
        "zh": "欢迎关注我们",
        "ko": "유튜브 구독",
    },
    "share_label": {
        "de": "Artikel teilen",
        "fr": "Partager",
        "es": "Compartir en Facebook",
        "it": "Condividi",
        "pt": "Partilhar",
        "nl": "Delen via WhatsApp",
        "pl": "Udostępnij",
        "ru": "Поделиться",
        "tr": "Paylaş",
        "ar": "شارك",
        "ja": "シェアする",
        "zh": "分享让更多人看到",
        "ko": "공유하기",
    },
    "embed_notice": {
        "en": "Embedded content",
        "de": "Link zum YouTube-Inhalt",
        "fr": "Contenu externe",
        "es": "Contenido externo",
        "it": "Contenuto esterno",
        "pt": "Conteúdo externo",
        "nl": "Externe inhoud",
        "pl": "Treść zewnętrzna",
        "ru": "Внешний контент",
        "tr": "Harici içerik",
        "ar": "محتوى خارجي",
        "ja": "外部コンテンツ",
        "zh": "外部内容",
        "ko": "외부 콘텐츠",
    },
    "ad_label": {
        "en": "Advertisement - story continues below",
        "de": "Anzeige",
        "fr": "La suite après cette publicité",
        "es": "Publicidad",
        "it": "Pubblicità",
        "pt": "Publicidade",
        "nl": "Advertentie",
        "pl": "Reklama",
        "ru": "Реклама",
        "tr": "Haberin devamı aşağıda",
        "ar": "إعلان",
        "ja": "広告",
        "zh": "广告",
        "ko": "광고",
    },
    "cjk_dateline": {
        "ja": "2025年1月14日 01時28分 (1月14日 01時40分更新)",
        "zh": "2025年1月14日 08:30",
        "ko": "입력 2025.01.14 08:30",
    },
    "source_credit": {
        "en": "SOURCE: News agencies",
        "de": "Quelle: AFP",
        "fr": "Source : Insee",
        "es": "Fuente: EFE",
        "it": "Fonte: Istat",
        "pt": "Fontes: IBGE, Banco Central",
        "nl": "Bron: CBS",
        "pl": "Źródło: GUS",
        "ru": "Источник: Росстат",
        "tr": "Kaynak: TÜİK",
        "ar": "المصدر: وكالات",
        "ja": "出典：総務省",
        "zh": "来源：新华社",
        "ko": "출처: 통계청",
    },
    "credit_caption": {
        "en": "Photo credit: Jane Doe",
        "de": "Foto: dpa/Michael Kappeler",
        "fr": "Photo : AFP",
        "es": "Foto: EFE",
        "it": "Foto: Ansa",
        "pt": "Foto: Reuters",
        "nl": "Beeld: ANP",
        "pl": "Fot. PAP/Leszek Szymański",
        "ru": "Фото: Дмитрий Азаров, Коммерсантъ",
        "tr": "Fotoğraf: AA",
        "ar": "صورة: رويترز",
        "ja": "写真：共同",
        "zh": "图片来源：新华社",
        "ko": "사진=연합뉴스",
    },
}

# Prose that uses the rules' words: an article sentence is never taken for a prompt.
PROSE = [
    "Die Anzeige wurde am Montag bei der Polizei in Frankfurt erstattet, sagte ein Sprecher der Staatsanwaltschaft.",
    "Lesen Sie auch die Begründung des Gerichts, riet der Anwalt seinen Mandanten, bevor sie Berufung einlegen.",
    "Le ministre a rappelé que la publicité pour le tabac est interdite en France depuis la loi Evin de 1991.",
    "La publicidad institucional del Gobierno creció un 20% en 2025, según los datos publicados el lunes.",
    "Reklama w telewizji publicznej budzi kontrowersje od lat, mówi ekspert z Uniwersytetu Warszawskiego.",
    "会員限定のイベントは中止になったと、主催者が二十三日に発表した。関係者によると、参加者への返金は来月に始まるという。",
    "The photo credit dispute went to court in March, and the judge ruled for the photographer in a long decision.",
    "Foto des Jahres: Die Jury zeichnete am Freitag in Berlin eine Aufnahme aus dem Hochwassergebiet aus.",
    "Abonnenten der Zeitung erhalten die Ausgabe künftig erst am Nachmittag, teilte der Verlag mit.",
    "Публикация доклада, опубликованного в понедельник, вызвала споры в парламенте и среди экспертов.",
    "Sources close to the minister said the budget would be cut by a tenth before the summer.",
    "Der Link wurde kopiert und tausendfach geteilt, bevor die Plattform den Beitrag am Abend löschte.",
    "Er folgte ihr auf Instagram seit Jahren, sagte die Staatsanwältin am Montag vor dem Landgericht in Köln.",
    "Sie folgt ihm auf Instagram.",
    "Folgen Sie dem Xylophon-Orchester durch die Altstadt.",
    "Le parti veut partager les richesses autrement, a déclaré sa porte-parole lors du meeting de dimanche.",
    "The link was copied to the clipboard of every staff computer, the audit found in its report on Monday.",
    "Quelle des Streits ist ein Gutachten, das die Stadt im Frühjahr in Auftrag gegeben hatte.",
    "Source : selon les chiffres publiés lundi par l'Insee, le chômage a reculé de 0,2 point au troisième trimestre.",
]


def first_rule(line: str) -> str | None:
    return next((r.name for r in LINE_RULES if r.matches(line)), None)


@pytest.mark.parametrize(
    "rule,language",
    [(rule, language) for rule, (_, _, _, by_language) in PHRASE_RULES.items() for language in by_language],
)
def test_every_language_of_every_phrase_rule_has_an_example_that_is_removed(rule, language):
    example = EXAMPLES[rule][language]
    assert first_rule(example) is not None, (rule, language, example)
    assert rule in {r.name for r in LINE_RULES if r.matches(example)}, (rule, language, example)


@pytest.mark.parametrize("line", PROSE)
def test_article_prose_with_the_same_words_is_kept(line):
    assert first_rule(line) is None, line


@pytest.mark.parametrize(
    "line",
    [
        "La suite est réservée aux abonnées et abonnés.",
        "Ces contenus sont réservés aux abonnés",
        "Déjà abonnée ? Se connecter",
        "Contenido exclusiva para suscriptores",
        "Ya soy suscriptora",
        "Questa notizia è riservata agli abbonati",
        "Sei già abbonata? Accedi",
        "Reportagem exclusiva para assinantes",
    ],
)
def test_paywall_prompts_in_each_grammatical_gender(line):
    assert first_rule(line) == "paywall_prompt", line


def test_the_main_news_languages_are_covered():
    main = {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "ja", "zh", "ko"}
    for rule, (_, _, _, by_language) in PHRASE_RULES.items():
        if rule != "cjk_dateline":
            assert set(by_language) >= main - {"en"} if rule != "dateline" else set(by_language) >= main, rule


def test_a_page_in_german_loses_its_prompts_and_keeps_its_text():
    text = [
        "Der Stadtrat hat am Dienstag den Haushalt für das kommende Jahr beschlossen, nach einer langen Debatte.",
        "Lesen Sie auch",
        "Foto: dpa/Michael Kappeler",
        "Die Opposition kritisierte die geplanten Kürzungen bei Schulen und Kitas scharf und kündigte Widerstand an.",
        "Anzeige",
        "Hat Ihnen dieser Artikel gefallen? Dann unterstützen Sie uns bitte mit einer Spende.",
    ]
    out = clean_lines(text, "Haushalt beschlossen")
    assert out.lines == [text[0], text[3]]
    assert set(out.removed) == {"read_also", "credit_caption", "ad_label", "support_prompt"}


def test_a_within_rule_searched_gives_what_its_whole_line_pattern_gives():
    """The rules shaped `.*(?:phrases).*`, and the alternatives shaped `.*X.*` of the others, are tested by
    searching (fast); the whole-line pattern must agree on every example, on prose around them, on the other
    rules' examples, and on a line with a newline (which takes it)."""
    searched = [rule for rule in LINE_RULES if rule.anywhere is not None]
    assert {rule.name for rule in searched if rule.name in PHRASE_RULES} == {
        name for name, spec in PHRASE_RULES.items() if spec[1] == "within"
    }
    assert {"comment_prompt", "follow_prompt", "newsletter_prompt", "copyright"} <= {r.name for r in searched}
    assert all(rule.rest is None for rule in searched if rule.name in PHRASE_RULES)
    lines = [text for by_language in EXAMPLES.values() for text in by_language.values()]
    lines += [  # the split rules' shapes, each side of the split
        "Comments are moderated before they appear",
        "Please log in to comment",
        "You must register to comment.",
        "Like us on Facebook",
        "Follow @valleycourier on Twitter",
        "Sign up to our newsletter and get the best stories in your inbox",
        "Click here to read the full report",
        "© 2024 Valley Courier Media. All rights reserved.",
        "Comments (12)",
        "Leave a comment",
        "Tell us what you think about the plan",
        "Previous post Next post",
    ]
    lines += [f"— {text} »" for text in lines] + [f"Prose before. {text} and after" for text in lines]
    lines += ["Already a subscriber?\nLog in", "\nSubscribe now\n", "The council met on Tuesday."]
    lines += ["Follow us on Facebook", "Copyright 2024 Example Media. All rights reserved.", "3 comments"]
    for rule in searched:
        for line in lines:
            whole = rule.pattern.fullmatch(line) is not None
            if "\n" not in line:
                found = rule.anywhere.search(line) is not None
                rest = rule.rest is not None and rule.rest.fullmatch(line) is not None
                assert (found or rest) == whole, (rule.name, line)
            words = len(line.split())
            short = words + (0 if line.isascii() else unspaced_letters(line)) <= rule.max_words
            assert rule.matches(line) == (whole and short), (rule.name, line)

"""Boilerplate phrases by language, as data: what news sites in the main news languages put around an article.

Each rule here is one kind of prompt or label, with its reason, the shape a line must have to match (`whole`: the
line is the phrase, perhaps with decoration; `lead`: the phrase, then ":" or a bar and a short text; `within`: a
short line containing the phrase) and, per language, the phrases as regular expressions (case-insensitive, spaces
as `\\s+`). `pipeline.document.rules` compiles them into line rules; `tests/document/test_phrases.py` holds
examples for every language of every rule. A phrase names what a kind of site says ("read also", "subscribe to
continue"), never one site's wording.
"""

from __future__ import annotations

# Social networks and messengers by the names sites print, Latin and local ("{SOCIAL}" in a phrase below).
SOCIAL = (
    r"(?:whatsapp|instagram|facebook\w*|telegram\w*|tiktok|youtube|twitter|x|linkedin|threads|bluesky|mastodon"
    r"|google\s+news|フェイスブック|インスタグラム|ユーチューブ|유튜브|인스타그램|페이스북|카카오톡|телеграм\w*"
    r"|фейсбук\w*|вконтакте|微信|微博|抖音)(?![a-z])"  # "X", not the first letter of a word
)

# name -> (reason, shape, max_words, {language: [phrase regexes]})
PHRASE_RULES: dict[str, tuple[str, str, int, dict[str, list[str]]]] = {
    "read_also": (
        "a 'read also' / 'more on this' pointer to another article, alone or with its title",
        "lead",
        25,
        {
            "en": [r"read\s+also", r"also\s+read", r"more\s+on\s+this\s+topic", r"read\s+more"],
            "de": [
                r"lesen\s+sie\s+(?:auch|mehr|hier)",
                r"auch\s+interessant",
                r"mehr\s+zum\s+thema",
                r"das\s+könnte\s+sie\s+auch\s+interessieren",
                r"weitere\s+artikel",
            ],
            "fr": [
                r"[àa]\s+lire\s+(?:aussi|également)",
                r"lire\s+aussi",
                r"voir\s+aussi",
                r"sur\s+le\s+même\s+sujet",
            ],
            "es": [
                r"lea\s+también",
                r"lee\s+también",
                r"leer\s+más",
                r"noticia\s+relacionada",
                r"te\s+puede\s+interesar",
                r"también\s+te\s+puede\s+interesar",
            ],
            "it": [r"leggi\s+anche", r"potrebbe\s+interessarti", r"leggi\s+(?:di\s+)?più"],
            "pt": [r"leia\s+(?:também|mais)", r"saiba\s+mais", r"veja\s+também"],
            "nl": [r"lees\s+ook", r"lees\s+meer", r"meer\s+over\s+dit\s+onderwerp"],
            "pl": [r"czytaj\s+(?:też|także|więcej|również)", r"zobacz\s+(?:też|także|również)"],
            "ru": [r"читайте\s+(?:также|еще|ещё)", r"по\s+теме"],
            "tr": [r"ayrıca\s+okuyun", r"ilginizi\s+çekebilir", r"bunlar\s+da\s+ilginizi\s+çekebilir"],
            "ar": [r"اقرأ\s+(?:أيضا|أيضاً|ايضا)", r"اقرأ\s+المزيد"],
            "ja": [r"関連記事", r"あわせて読みたい", r"おすすめ情報", r"関連キーワード"],
            "zh": [r"相关阅读", r"延伸阅读", r"相关新闻", r"相关文章"],
            "ko": [r"관련\s*기사", r"함께\s+보면\s+좋은\s+기사"],
        },
    ),
    "paywall_prompt": (
        "subscription and paywall prompts: subscribe, log in or register to read on",
        "within",
        30,
        {
            "en": [
                r"subscribe\s+now",
                r"already\s+a\s+subscriber",
                r"for\s+subscribers\s+only",
                r"log\s+in\s+or\s+create\s+an\s+account\s+to\s+continue",
                r"subscribe\s+to\s+continue\s+reading",
            ],
            "de": [
                r"jetzt\s+abonnieren",
                r"abo\s+abschließen",
                r"(?:\d+\s+\w+\s+)?kostenlos\s+testen",
                r"bereits\s+abonnent",
                r"weiterlesen\s+mit\s+\w+",
                r"nur\s+für\s+abonnenten",
            ],
            # the forms agree with what is reserved: "réservé", "réservée", "riservata", "exclusiva"
            "fr": [
                r"abonnez-vous",
                r"déjà\s+abonnée?",
                r"réservée?s?\s+aux\s+abonné(?:e)?s",
                r"article\s+réservé",
            ],
            "es": [r"suscríbete", r"ya\s+soy\s+suscriptora?", r"exclusiv[oa]s?\s+para\s+suscriptores"],
            "it": [
                r"abbonati\s+(?:ora|subito)",
                r"sei\s+già\s+abbonat[oa]",
                r"riservat[oaie]\s+agli\s+abbonati",
            ],
            "pt": [r"assine\s+(?:já|agora)", r"já\s+é\s+assinante", r"exclusiv[oa]s?\s+para\s+assinantes"],
            "nl": [r"word\s+abonnee", r"al\s+abonnee", r"alleen\s+voor\s+abonnees"],
            "pl": [r"wykup\s+(?:dostęp|subskrypcję|prenumeratę)", r"dostęp\s+dla\s+subskrybentów"],
            "ru": [r"оформите\s+подписку", r"только\s+для\s+подписчиков"],
            "tr": [r"abone\s+ol(?:un)?", r"abonelere\s+özel"],
            "ar": [r"اشترك\s+الآن", r"للمشتركين\s+فقط"],
            "ja": [r"会員限定", r"有料会員", r"会員登録", r"読み放題", r"有料記事"],
            "zh": [r"订阅会员", r"付费阅读", r"登录后阅读"],
            "ko": [r"유료\s*회원", r"구독하고\s+전체"],
        },
    ),
    "support_prompt": (
        "donation and membership appeals",
        "within",
        45,
        {
            "en": [r"support\s+(?:our|independent)\s+journalism", r"make\s+a\s+donation", r"donate\s+now"],
            "de": [
                r"unterstützen\s+sie\s+uns",
                r"journalismus\s+braucht\s+(?:deine|ihre)\s+unterstützung",
                r"mit\s+einer\s+spende",
                r"jetzt\s+spenden",
            ],
            "fr": [r"soutenez-nous", r"faire\s+un\s+don", r"soutenez\s+(?:notre|le)\s+journalisme"],
            "es": [r"apoya\s+(?:el|nuestro)\s+periodismo", r"haz\s+una\s+donación"],
            "it": [r"sostieni\s+(?:il|il\s+nostro)\s+giornalismo", r"fai\s+una\s+donazione"],
            "pt": [r"apoie\s+o\s+jornalismo", r"faça\s+uma\s+doação"],
            "nl": [r"steun\s+(?:ons|onafhankelijke\s+journalistiek)", r"doneer\s+nu"],
            "pl": [r"wesprzyj\s+(?:nas|niezależne\s+dziennikarstwo)"],
            "ru": [r"поддержите\s+(?:нас|редакцию)"],
            "tr": [r"bağımsız\s+gazeteciliğe\s+destek"],
            "ar": [r"ادعم\s+الصحافة"],
            "ja": [r"ご支援をお願い"],
            "zh": [r"支持我们的新闻"],
            "ko": [r"후원하기"],
        },
    ),
    "rating_prompt": (
        "'did you like this article?' and rating widgets",
        "within",
        20,
        {
            "en": [
                r"was\s+this\s+article\s+helpful",
                r"did\s+you\s+find\s+this\s+article",
                r"rate\s+this\s+article",
            ],
            "de": [
                r"(?:wie\s+)?hat\s+ihnen\s+(?:dieser|der)\s+artikel\s+gefallen",
                r"durchschnittliche\s+bewertung",
            ],
            "fr": [r"cet\s+article\s+vous\s+a-t-il\s+plu"],
            "es": [r"te\s+ha\s+gustado\s+(?:este|el)\s+artículo"],
            "it": [r"ti\s+è\s+piaciuto\s+(?:questo\s+articolo|l['’]articolo)"],
            "pt": [r"gostou\s+(?:deste|do)\s+artigo"],
            "nl": [r"vond\s+je\s+dit\s+artikel"],
            "pl": [r"czy\s+ten\s+artykuł\s+był\s+pomocny"],
            "ru": [r"понравилась\s+статья"],
            "tr": [r"bu\s+haberi\s+beğendiniz\s+mi"],
            "ar": [r"هل\s+أعجبك\s+المقال"],
            "ja": [r"この記事は役に立ちましたか"],
            "zh": [r"这篇文章对你有帮助吗"],
            "ko": [r"이\s+기사가\s+도움이\s+되셨나요"],
        },
    ),
    "reading_time": (
        "reading-time labels ('3 Minuten Lesezeit')",
        "whole",
        10,
        {
            "en": [r"(?:\d+\s*)?min(?:ute)?s?\.?\s+read", r"reading\s+time\s*:?\s*\d+\s*min\w*"],
            "de": [
                r"(?:\d+\s*)?(?:minuten?|min\.?)\s+lesezeit",
                r"lesezeit\s*:?\s*\d+\s*(?:minuten?|min\.?)",
            ],
            "fr": [
                r"(?:\d+\s*)?min(?:utes?)?\.?\s+de\s+lecture",
                r"temps\s+de\s+lecture\s*:?\s*\d+\s*min\w*",
            ],
            "es": [r"(?:\d+\s*)?minutos?\s+de\s+lectura", r"tiempo\s+de\s+lectura\s*:?\s*\d+\s*min\w*"],
            "it": [r"(?:\d+\s*)?minuti\s+di\s+lettura", r"tempo\s+di\s+lettura\s*:?\s*\d+\s*min\w*"],
            "pt": [r"(?:\d+\s*)?min(?:utos)?\.?\s+de\s+leitura", r"tempo\s+de\s+leitura\s*:?\s*\d+\s*min\w*"],
            "nl": [r"(?:\d+\s*)?min(?:uten)?\.?\s+leestijd", r"leestijd\s*:?\s*\d+\s*min\w*"],
            "pl": [r"(?:\d+\s*)?min(?:ut)?\.?\s+czytania", r"czas\s+czytania\s*:?\s*\d+\s*min\w*"],
            "ru": [r"(?:\d+\s*)?мин(?:ут[аы]?)?\.?\s+(?:на\s+)?чтени[яе]"],
            "tr": [r"(?:\d+\s*)?dk(?:\.|ika)?\s+okuma(?:\s+süresi)?"],
            "ar": [r"(?:\d+\s*)?دقائق\s+(?:للقراءة|قراءة)"],
            "ja": [r"(?:\d+\s*)?分で読めます"],
            "zh": [r"阅读时间\s*[:：]?\s*\d+\s*分钟"],
            "ko": [r"(?:\d+\s*)?분\s+분량"],
        },
    ),
    "dateline": (
        "a 'published/updated on' line with its date",
        "lead_date",
        14,
        {
            "de": [r"veröffentlicht\s+am", r"aktualisiert\s+am", r"stand\s*:", r"zuletzt\s+aktualisiert"],
            "fr": [r"publié\s+le", r"mis\s+à\s+jour\s+le"],
            "es": [r"publicado\s+el", r"actualizado\s+(?:el|a\s+las)"],
            "it": [r"pubblicato\s+il", r"aggiornato\s+(?:il|alle)"],
            "pt": [r"publicado\s+em", r"atualizado\s+em"],
            "nl": [r"gepubliceerd\s+op", r"bijgewerkt\s+op"],
            "pl": [r"opublikowano", r"aktualizacja\s*:?"],
            "ru": [r"опубликовано", r"обновлено"],
            "tr": [r"yayınlanma(?:\s+tarihi)?\s*:?", r"güncellenme(?:\s+tarihi)?\s*:?", r"güncelleme\s*:?"],
            "ar": [r"تاريخ\s+النشر", r"آخر\s+تحديث"],
            "ja": [r"公開日\s*[:：]?", r"更新日\s*[:：]?"],
            "zh": [r"发布时间\s*[:：]?", r"更新时间\s*[:：]?"],
            "ko": [r"입력\s*[:：]?", r"수정\s*[:：]?", r"업데이트\s*[:：]?"],
            "en": [r"(?:first\s+)?published\s+(?:on|at)", r"last\s+updated\s+(?:on|at)"],
        },
    ),
    "embed_notice": (
        "the placeholder of an embedded post or video ('external content', 'Link to the YouTube content')",
        "whole",
        12,
        {
            "en": [
                r"(?:embedded|external|third[-\s]party)\s+content",
                r"(?:youtube|instagram|twitter|x|tiktok)\s+(?:content|post|video)",
            ],
            "de": [
                r"(?:empfohlener\s+)?externer\s+inhalt",
                r"link\s+zum\s+[\w-]+-inhalt",
                r"[\w-]+-inhalt\s+laden",
            ],
            "fr": [r"contenu\s+externe"],
            "es": [r"contenido\s+externo"],
            "it": [r"contenuto\s+esterno"],
            "pt": [r"conteúdo\s+externo"],
            "nl": [r"externe\s+inhoud"],
            "pl": [r"treść\s+zewnętrzna"],
            "ru": [r"внешний\s+контент"],
            "tr": [r"harici\s+içerik"],
            "ar": [r"محتوى\s+خارجي"],
            "ja": [r"外部コンテンツ"],
            "zh": [r"外部内容"],
            "ko": [r"외부\s+콘텐츠"],
        },
    ),
    "copied_notice": (
        "a share widget's confirmation that the article's link was copied ('Link copied', 'Lien copié')",
        "whole",
        16,
        {
            "en": [
                r"(?:the\s+)?(?:link|url|address)\s+(?:has\s+been\s+|was\s+)?copied(?:\s+to\s+(?:the\s+)?clipboard)?",
                r"copied\s+to\s+(?:the\s+)?clipboard",
            ],
            "de": [
                r"link\s+(?:wurde\s+)?(?:in\s+die\s+zwischenablage\s+)?kopiert",
                r"in\s+die\s+zwischenablage\s+kopiert",
            ],
            "fr": [
                r"lien\s+copié(?:\s+dans\s+le\s+presse-papiers?)?",
                r"copié\s+dans\s+le\s+presse-papiers?",
            ],
            "es": [r"enlace\s+copiado(?:\s+al\s+portapapeles)?", r"copiado\s+al\s+portapapeles"],
            "it": [r"link\s+copiato(?:\s+negli\s+appunti)?", r"copiato\s+negli\s+appunti"],
            "pt": [r"link\s+copiado(?:\s+para\s+a\s+área\s+de\s+transferência)?"],
            "nl": [r"link\s+gekopieerd(?:\s+naar\s+(?:het\s+)?klembord)?"],
            "pl": [r"link\s+(?:został\s+)?skopiowany", r"skopiowano\s+(?:link|do\s+schowka)"],
            "ru": [r"ссылка\s+скопирована(?:\s+в\s+буфер\s+обмена)?"],
            "tr": [r"(?:bağlantı|link)\s+kopyalandı"],
            "ar": [r"تم\s+نسخ\s+الرابط"],
            "ja": [r"(?:記事の)?(?:リンク|URL)を?コピーしました"],
            "zh": [r"(?:链接|鏈接|网址|網址)已(?:复制|複製)", r"已(?:复制|複製)(?:链接|鏈接)"],
            "ko": [r"(?:기사\s*)?(?:URL|링크|주소)(?:이|가)\s*복사되었습니다"],
        },
    ),
    "follow_social": (
        "an invitation to follow the outlet on a social network or messenger ('Folgen Sie uns auf Instagram')",
        "within",
        25,
        {
            "de": [
                r"(?:folgen\s+sie\s+uns|folgt\s+uns|folge\s+uns|folgst\s+du)\b.{0,40}\b{SOCIAL}",
                r"(?:abonniere|abonnieren\s+sie)\s+(?:uns(?:eren)?|den)\b.{0,30}\b{SOCIAL}",
            ],
            "fr": [r"(?:suivez|rejoignez)[-\s](?:nous|\w+)\b.{0,40}\b{SOCIAL}"],
            "es": [r"(?:síguenos|siga(?:nos)?|únete)\b.{0,40}\b{SOCIAL}"],
            "it": [r"(?:seguici|segui(?:teci)?)\b.{0,40}\b{SOCIAL}"],
            "pt": [r"(?:siga(?:-nos)?|sigam)\b.{0,40}\b{SOCIAL}"],
            "nl": [r"volg\s+(?:ons|\w+)\b.{0,40}\b{SOCIAL}"],
            "pl": [r"(?:obserwuj|śledź|dołącz\s+do)\b.{0,40}\b{SOCIAL}"],
            "ru": [r"(?:подписывайтесь|подпишитесь|следите)\b.{0,40}\b{SOCIAL}"],
            "tr": [r"\b{SOCIAL}['’]?\w*\s+.{0,20}takip\s+edin"],  # "Bizi Instagram'dan takip edin"
            "ar": [r"تابعونا\s+على"],
            "ja": [r"{SOCIAL}\s*で.{0,20}フォロー"],
            "zh": [r"关注我们的{SOCIAL}", r"(?:关注|關注)我们", r"(?:关注|關注)我們"],
            "ko": [r"{SOCIAL}\s*(?:에서|를|을)?\s*(?:팔로우|구독)"],
        },
    ),
    "share_label": (
        "a share button's label on a line of its own ('Artikel teilen', 'Partager', '分享')",
        "whole",
        12,
        {
            "de": [r"(?:artikel\s+|beitrag\s+|jetzt\s+)?teilen"],
            "fr": [r"partager(?:\s+(?:cet\s+article|l['’]article|sur\s+\w+))?"],
            "es": [
                r"compartir(?:\s+(?:en\s+\w+|esta\s+noticia|este\s+artículo))?",
                r"comparte\s+esta\s+noticia",
            ],
            "it": [r"condividi(?:\s+(?:su\s+\w+|questo\s+articolo))?"],
            "pt": [r"(?:compartilh|partilh)(?:ar|e)(?:\s+(?:no\s+\w+|esta\s+notícia|este\s+artigo))?"],
            "nl": [r"(?:artikel\s+)?delen(?:\s+via\s+\w+)?", r"deel\s+dit\s+artikel"],
            "pl": [r"udostępnij(?:\s+(?:na\s+\w+|artykuł))?"],
            "ru": [r"поделиться(?:\s+в\s+\w+)?"],
            "tr": [r"paylaş(?:ın)?"],
            "ar": [r"شارك(?:\s+المقال)?", r"مشاركة"],
            "ja": [r"(?:この記事を)?シェア(?:する)?"],
            "zh": [r"分享(?:到|至)?(?:朋友圈|微信|微博)?", r"分享让更多人看到"],
            "ko": [r"(?:기사\s*)?공유(?:하기)?"],
        },
    ),
    "ad_label": (
        "an advertisement label and 'the article continues after the ad'",
        "whole",
        10,
        {
            "en": [
                r"advertisement\W*(?:[\w-]+\W*)?(?:story|article)\s+continues\s+below",
                r"article\s+continues\s+below",
            ],
            "de": [r"anzeige", r"werbung", r"(?:lesen\s+sie\s+)?weiter\s+nach\s+der\s+(?:anzeige|werbung)"],
            "fr": [r"publicité", r"la\s+suite\s+après\s+(?:cette\s+)?(?:la\s+)?publicité"],
            "es": [r"publicidad", r"continúa\s+después\s+de\s+la\s+publicidad"],
            "it": [r"pubblicità", r"l['’]articolo\s+continua\s+(?:dopo\s+la\s+pubblicità|sotto)"],
            "pt": [r"publicidade", r"continua\s+(?:após|depois\s+da)\s+publicidade"],
            "nl": [r"advertentie", r"het\s+artikel\s+gaat\s+verder\s+onder\s+de\s+advertentie"],
            "pl": [r"reklama", r"dalsza\s+część\s+artykułu\s+pod\s+(?:reklamą|materiałem\s+wideo)"],
            "ru": [r"реклама", r"продолжение\s+(?:статьи\s+)?ниже"],
            "tr": [r"reklam", r"haberin\s+devamı\s+(?:aşağıda|reklamın\s+altında)"],
            "ar": [r"إعلان", r"تابع\s+القراءة\s+أدناه"],
            "ja": [r"広告", r"記事の続きは(?:広告の)?下"],
            "zh": [r"广告"],
            "ko": [r"광고"],
        },
    ),
    "cjk_dateline": (
        "a line that is only a date and time in Chinese, Japanese or Korean form, perhaps with its update time",
        "whole",
        20,
        {
            "ja": [
                r"(?:\d{4}年)?\d{1,2}月\d{1,2}日\s*(?:[(（]?[月火水木金土日][)）]?)?\s*[\d:：時分\s]*"
                r"(?:[(（][^()（）]{0,30}更新[)）]|更新)?"
            ],
            "zh": [r"\d{4}年\d{1,2}月\d{1,2}日\s*[\d:：\s]*(?:来源[:：].{0,20})?"],
            "ko": [
                r"(?:입력|수정|업데이트)?\s*\d{4}[.-]\d{2}[.-]\d{2}\.?\s*[\d:\s]*(?:(?:입력|수정|업데이트)\s*[\d.:\s-]*)*"
            ],
        },
    ),
    "source_credit": (
        "a source credit on a line of its own ('Quelle: AFP', 'SOURCE: News agencies', 'Fuente: EFE')",
        "lead",
        8,
        {
            "en": [r"sources?(?=\s*:)"],
            "de": [r"quellen?(?=\s*:)"],
            "fr": [r"sources?(?=\s*:)"],
            "es": [r"fuentes?(?=\s*:)"],
            "it": [r"fonte(?=\s*:)", r"fonti(?=\s*:)"],
            "pt": [r"fontes?(?=\s*:)"],
            "nl": [r"bron(?:nen)?(?=\s*:)"],
            "pl": [r"źródło(?=\s*:)", r"źródła(?=\s*:)"],
            "ru": [r"источники?(?=\s*:)"],
            "tr": [r"kaynak(?:lar)?(?=\s*:)"],
            "ar": [r"المصدر(?=\s*:)", r"المصادر(?=\s*:)"],
            "ja": [r"出典(?=\s*[:：])", r"出所(?=\s*[:：])"],
            "zh": [r"来源(?=\s*[:：])", r"消息来源(?=\s*[:：])"],
            "ko": [r"출처(?=\s*[:：])"],
        },
    ),
    "credit_caption": (
        "a photo or image credit line ('Foto: …', 'Фото: …', '写真：…')",
        "lead",
        12,
        {
            "de": [r"fotos?", r"bilder?", r"quelle\s+bild"],
            "fr": [r"photos?", r"crédits?\s+photo"],
            "es": [r"fotos?", r"imagen"],
            "it": [r"fotos?", r"immagine"],
            "pt": [r"fotos?", r"imagem"],
            "nl": [r"beeld", r"foto's?"],
            "pl": [r"fot\.", r"zdjęcie"],
            "ru": [r"фото"],
            "tr": [r"fotoğraf"],
            "ar": [r"صورة"],
            "ja": [r"写真"],
            "zh": [r"图片来源", r"摄影"],
            "ko": [r"사진"],
            "en": [r"photo\s+credit"],
        },
    ),
}


# A comment thread's furniture, by language: relative times ("2 hours ago"), reply and like labels, and the
# thread's heading. `pipeline.document.clean` cuts a thread by its shape: these recurring through the page's end.
RELATIVE_TIME = (
    r"(?:\d+|an?|one)\s+(?:sec(?:ond)?s?|min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago",  # en
    r"vor\s+(?:\d+|einer?|einem)\s+(?:sekunden?|minuten?|stunden?|tag(?:en)?|wochen?|monat(?:en)?|jahr(?:en)?)",  # de
    r"il\s+y\s+a\s+(?:\d+|une?)\s+(?:secondes?|minutes?|heures?|jours?|semaines?|mois|ans?)",  # fr
    r"hace\s+(?:\d+|una?)\s+(?:segundos?|minutos?|horas?|días?|semanas?|meses|mes|años?)",  # es
    r"(?:\d+|un[ao]?)\s+(?:secondi|minuti|ore|ora|giorni|giorno|settimane|mesi|mese|anni|anno)\s+fa",  # it
    r"há\s+(?:\d+|uma?)\s+(?:segundos?|minutos?|horas?|dias?|semanas?|meses|mês|anos?)",  # pt
    r"(?:\d+|een)\s+(?:seconden|minuten|minuut|uur|dagen|dag|weken|week|maanden|maand|jaar)\s+geleden",  # nl
    r"(?:\d+)\s+(?:sekund[ey]?|minut[ey]?|godzin[ay]?|dni|dzień|tygodni[e]?|miesi[ęą]c[ey]?|lat[a]?)\s+temu",  # pl
    r"(?:\d+)\s+(?:секунд[уы]?|минут[уы]?|час(?:а|ов)?|дн(?:я|ей)|день|недел[юьи]|месяц(?:а|ев)?|лет|года?)\s+назад",  # ru
    r"(?:\d+)\s+(?:saniye|dakika|saat|gün|hafta|ay|yıl)\s+önce",  # tr
    r"منذ\s+\S+(?:\s+\S+)?",  # ar
    r"\d+\s*(?:秒|分|時間|日|週間|か月|ヶ月|年)前",  # ja
    r"\d+\s*(?:秒|分钟|小时|天|周|个月|年)前",  # zh
    r"\d+\s*(?:초|분|시간|일|주|개월|년)\s*전",  # ko
)
COMMENT_ACTIONS = (
    r"reply|replies|like|likes|report|share|"  # en
    r"antworten|melden|gefällt\s+mir|"  # de
    r"répondre|signaler|j['’]aime|"  # fr
    r"responder|respuestas?|me\s+gusta|denunciar|"  # es
    r"rispondi|segnala|mi\s+piace|"  # it
    r"curtir|denunciar|"  # pt
    r"reageer|beantwoorden|"  # nl
    r"odpowiedz|zgłoś|"  # pl
    r"ответить|пожаловаться|"  # ru
    r"yanıtla|cevapla|şikayet\s+et|"  # tr
    r"رد|إبلاغ|"  # ar
    r"返信|通報|いいね|"  # ja
    r"回复|举报|点赞|"  # zh
    r"답글|신고|좋아요"  # ko
)
COMMENT_WORDS = (
    r"comments?|kommentare?|commentaires?|comentarios?|commenti|comentários?|reacties|komentarze?|"
    r"комментари[йи]|yorumlar?|تعليقات|コメント|评论|댓글"
)


for _reason, _shape, _words, _by_language in PHRASE_RULES.values():
    for _language, _phrases in _by_language.items():
        _by_language[_language] = [phrase.replace("{SOCIAL}", SOCIAL) for phrase in _phrases]

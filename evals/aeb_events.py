"""AEB articles that report the same news event: the story ground truth of `evals.dedupe`.

AEB's pages were collected from news sites within a few days of November 2019. Several report the same event
from different outlets. An editor would give those one story, so `evals.dedupe` must not count them as a false
story merge when the pipeline groups them.

How these were found, without the pipeline:
- every pair of AEB ground-truth bodies of at least `evals.dedupe.MIN_WORDS` words was scored by TF-IDF cosine
  over lower-cased words;
- the 110 highest pairs (cosine down to 0.15) were read. Below about 0.2, no pair reported a shared event;
- a pair is one event when both report the same happening (same people, place and occasion, told as news of the
  same days).

Left apart, because an editor would not call them one story:
- a digest of several items that leads with one of these events ("the tech news you need to know", "opening
  bell");
- the same subject on other occasions: WeWork's layoffs and the attorney general's inquiry; Sondland's coming
  testimony and the 19 November hearing; the Davis Cup's first day and a later tie; two Ascom press releases;
- opinion pieces on a running conflict (Hong Kong's protests, the US-China trade talks), which name no single
  event.

Each group's key says what the event is; its values are AEB page ids (the sha256 in `ground-truth.json`).
"""

from __future__ import annotations

EVENTS: dict[str, tuple[str, ...]] = {
    "Doobie Brothers announce a 50th-anniversary tour with Michael McDonald": (
        "9cb8224b660f36c932823ab613fb76a07928fcbc41956c4c1f96f4ecab9202aa",
        "ac1bfdd4c510f679c58f1b62101630d40fda20a16703235ae0f56b65a465e423",
        "35b158918c676ff2c74445517db76c83db70a805cc50b64e1369b354a027fcbd",
    ),
    "a New York man pleads guilty to threatening to kill Rep. Ilhan Omar": (
        "6ebac05f637ece8aa57c298a2a5e3a8047f546f855d0f29cc683cea60ce85c85",
        "7a457a4f71735c17b8b34fafc88835d225cf879b2d812311857a64cfc891eee9",
    ),
    "NASA adds five companies, SpaceX and Blue Origin among them, to its commercial lunar deliveries": (
        "c50845a7158af12ee75acea301a3ea0dad1e848d6b9dbdb43ba7f2d825b2528b",
        "d1c57d7821e5a5b27fb468c59489601bb2a042b1c05221166e3221d2b5dc217f",
        "42aad16bde9288623543642a9ce1a396be83e2db44aa2ff8cbbfe46e14abd7cc",
    ),
    "Sweden drops its investigation of Julian Assange": (
        "c7e39ac49fa1235f5d50f83bf2444248bd3aa4e6df044377916c812dd109ba23",
        "dc7ccccc1f34eb2928cb238739aaf18c712d59d8d34b41acfb29178aeba65356",
    ),
    "Home Depot's third-quarter results and lowered sales forecast": (
        "51374560f40088e227f0053ff1bb0b8525d10a8d7bfbff1cd6033f42347fd85b",
        "f8ff621a0b9b7646cc0d57d37416feabba2bf78ef5dd0bfc5b080f9f97bbe584",
    ),
    "police release video of a kidnapped Fort Worth girl's rescue": (
        "2c46804d9db4a85e8f8d31128ce0e11d02f25c7120c2faa5ec0664c604a47717",
        "51d066b0602c9421d8d6410bc4b931700978409a3faa2a984e8fbde519ad7241",
    ),
    "plague cases in Beijing and Inner Mongolia": (
        "8b194530308204139d9c8f7d495a26b117c78756ac1802cfc3c0a8bfdf2c0d50",
        "ea25dd7edff4d27973600f35728f20aed5a3eedcc23257d9c3afc3d3e840c3de",
        "ba4dfe2d3e817ff7b8b01172ccc307850fc5469bcdd26c3c48ca046cb88ab7cf",
        "432362af0be43f6da757ea778bd7f2f000094a565bdebac5af7442987a5372f3",
    ),
    "South Dakota's 'Meth. We're on it.' campaign": (
        "156770d676ce79905198e1c8407f81e5ecfb617d9aa44712718707eb7e3b8e38",
        "776a1c046798b474e410f6edf3225d6a27fecd0de6aac22aef7b7f64fe87caaf",
        "3f65af7b6b98b1c9ae9a3e0d8a09a85600cdc44e26e4b3a6db96a31f4b1767e3",
        "c13b9c0e04fb28d445d22e92bff6ab7f7800a429930677c28c4dad89f3269869",
    ),
    "NASA scientists confirm water vapour above Europa": (
        "14cc2a0ca59c62a8c9f205a171e9ccf4ef4cf69b0c642f51c8c65c051b39024f",
        "f344ca5fb36e130f4344235fa22726f3367e09c211c120f21d9ae92effe902db",
        "686bb170effe273eaff1c0f88e412172e8d972518a6d1454c896f52aafaa9643",
    ),
    "a man's lung disease from a feather duvet (a case report)": (
        "7bb1ca90354313840329d2f569ea9fb3a582df2aa0a5e3669f8fc567eb6ea61b",
        "bd673bd7988144f0ab7b9c5e19fed140fb5aaa30d8894cb045b72d3b79a7dc54",
        "9eef8162bbb67b0bd73792313b91b87dc9304f43f85f479e67e71c166417451e",
        "a078b3656adc0295d0e37bd4f599342f4a0894da2451e0ef3038ac045434fef3",
    ),
    "Google Stadia launches, with its first reviews": (
        "680c2848e94a96f961a0964631de94ac572f83c45bfd0bec2deafa893bcfe15c",
        "8267acacb9e4a109b1f7ee7bafe735b73e9c94180b703b131f9e90c9be044f39",
        "aade2ec8d1e7b0919aef1001c3ef0573f8a239e22d4d751d8e664f04ea77ef0d",
        "e100c9612ad8495db03b2a9f968952d0eaa4853d9b32ded6a29f8e313a974873",
    ),
    "New York's attorney general investigates WeWork": (
        "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85",
        "1ace8c85aaee21b9d4505eca506d50c4721c29db62848b567a9703bfe0583892",
    ),
    "the Browns-Steelers fight and Myles Garrett's suspension": (
        "08f793762792bd252c75fb57544cdf506ffcc04785136cb87503f02364b82b56",
        "7ab16ade32386ece353b8d31fc3bb7e660189efd5bf3c8549aaba101ad3f5ef5",
    ),
    "Prince Andrew's BBC interview on Jeffrey Epstein": (
        "1f765c48780665e89cc3af1f7c9af47876e9fae9b5be4a936b0649e10f5e3198",
        "87bf60570e6e2e33cb1f0fdb5600d6c85012e60be25ba6fa587b8f90eb9a3770",
    ),
    "the impeachment inquiry's hearing of 19 November (Volker and Morrison)": (
        "7a664e40d256470fdb12d10c3f8d1c6db0581e9b080c71765e55f273a3ac7d03",
        "c90731f051d033e49e4cfcc920895051bbc3b54ef1a11519abcf22a115c3aa79",
    ),
}

_EVENT_OF = {page: event for event, pages in EVENTS.items() for page in pages}


def event_of(page_id: str) -> str:
    """The story label of an AEB page: its event's name when it shares one with other pages, else ""."""
    return _EVENT_OF.get(page_id, "")

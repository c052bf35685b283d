"""Downloading the real datasets: each file from its commit-pinned public source, checked by SHA-256.

    download_dataset("sst2")            # the files missing under the data root, then load_dataset("sst2")

For users with a network; the registry (:mod:`minilm.data.registry`) names each dataset's files
and the repository and commit they come from, :data:`SHA256` the digest each must have.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from minilm.data.loaders import WIKI_FILES
from minilm.data.registry import DATASETS, data_root
from minilm.errors import UserError
from minilm.fileio import atomic_write_bytes

RAW_GITHUB = "https://raw.githubusercontent.com"


def download_dataset(name: str, data_dir: str | Path | None = None, mirror: str = RAW_GITHUB) -> Path:
    """Fetch the files of dataset ``name`` missing under :func:`data_root`; returns its folder.

    Each file comes from ``{mirror}/{repo}/{commit}/{path}`` -- the commit-pinned copy the shared
    data was taken from -- and is kept only if its SHA-256 is the recorded one.  Files the
    repository keeps uncompressed but the data folder keeps as ``.gz`` are gzipped after the check.
    """
    if name not in DATASETS:
        raise UserError(f"only the real datasets can be downloaded; known: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    folder = data_root(data_dir) / spec.folder
    for file in spec.files:
        if (folder / file).is_file():
            continue
        remote = spec.remote(file)
        url = f"{mirror.rstrip('/')}/{spec.repo}/{spec.commit}/{remote}"
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise UserError(f"{url}: download failed ({getattr(e, 'reason', e)})") from None
        digest, expected = hashlib.sha256(data).hexdigest(), SHA256[f"{spec.folder}/{file}"]
        if digest != expected:
            raise UserError(f"{url}: SHA-256 is {digest}, expected {expected}; not saved")
        if file.endswith(".gz") and not remote.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
        atomic_write_bytes(folder / file, data)
    return folder


# SHA-256 of each file as its repository serves it (before any gzip applied here)
_WIKI_SHA256 = (
    "5a4fff08b6dd4322bcc7482c291d7fae87b74d2977f1fd334ab134ff2a343357",
    "1585b00a7ac8876c0af234398362c28bab79c9eaf87de400acee213c64e3f497",
    "f6d7e9abeef6ac13b43546eb754adce2f1bdad17435bbd81db7baf2cb9069de6",
    "c13ed75ec1d1261db990834692270d0133e4509bee98925eeb84984a5f9ca7b1",
    "da1a71464870b1fd1e7890fa6f221e337fb3ba0906c4b3d6da61c27dfecd920c",
    "2f39ddbfc2444de86671d9734774e4cc6e028b66a9e74e41ef7e2f6ded982549",
    "98743138f8ff1f971e893e1dcb73507e8594fa14c4061794c37c0a9ffffe4823",
    "53f629c7be35c607f7083bbee3635b405b45169c830594289e64a77c77931f4d",
    "9e76fc566878894983241d75d45035e60ebd1cf1c408ca7986bca3333d4d2e04",
    "bb51cf1195384039c5be870a0a5002eea2045b307a7a5d18493b13de9961dc1a",
    "39ae8adf5066e00a4d9014326da36f5e738a9abc0fbe9f963f829ec617e25b4f",
    "cb53e9c5443bd345dd6094c4e09ebae2bd022c9db507baaaa2dd24849cb2449b",
    "ec0bd4d212e590c958fe14d4292dcb2b555b42c90fcdfe824ce7a146f739de03",
    "c88e7fccf0503f4f99d8df1bb34563cc37fd052e1939e2ffcb937838241e3fc7",
    "0874d17a9991681ec05cfe484a0500210bd764c36b41ca672f1ea964c2a21ff1",
    "e0fabdca5445c3bf562f431fc5743aeca6f9296e987006784e8f114e09ebe14c",
    "86482abda53e9284a6dd73885bd4b8c9d122866ade9bd2d6797db566e0ac353d",
    "7c625aa6d09c524434628b48949298beede2fdcf0d9d569cae0d0ba12259e5e0",
    "124f43076e9aafabaa4d257f4eb412a83159b4c59f24fc6ad96e53d2493f356b",
    "d660346b5ed1c1cabb74bb7792529ed71c23659f4e0edb4c6e474de5c6e63f50",
    "5cc2b5af167f5af050b2e1e3530064f8253caf6a3a4760940def703083c638bb",
    "4e9cd6baa7ecfcfbb5346cc0df721589a64097d8ca670b25ad0679762b07edd5",
    "6ec3461899532e113b891567039d234cdbff790e9c9238007cee93248bf54171",
    "dd3e617cec8e2f893dfb1e14c272f3c4f033c1758f434f59964ce2c0bc4c08f8",
    "a4c449a101047b2cfcdc2917a76595697c9e2ea7308f0f9551c461707caaf6e1",
    "8e65a9f16fd89316998084c17591a17e0fe4ef50254fa78d4bb219f34ec60d26",
    "70cb12dc4f0af4afbeab5964ba105365945bbdff097f983447617bbd35b432a5",
    "86f8c8112e10ee6b4215648ff99863062efef401b1606ab7bae2b2cc710af4de",
    "43a0b6a33b37bebce2595a894d37d15b6a62cf5c089c32cfc9cd06b8e3023632",
    "466af26ae8a957957d0b6c9fa47d0901a75e6a107a8d224e77714aa98bf69328",
    "85d84720ffb3fc800f7aa7523e5e3cf737fc10ba3fe552c80d10148da6fd4ce2",
    "d52a23cafd9f6cbb4a50def6557389f5fc796e0814172b51561c54fda1745d92",
    "9a90582ab18d48e5a3893c08ac6211551a937a7be9b6ad7a3517a07f78a8de9f",
    "1b1ac4e0203a1996354d094f7d34ff5a60bbfd3a007d1b602158a70f85ab5c8d",
    "1e0e791cf5e5bb72f3f01bddb28b6d9162ebb8f61e266c07a5dd6111c01fd08d",
    "486dc1253bb6830f94a810637c840e6ba5557062c614f07ddb930a67c71e2b18",
    "b25bc8c1b59a8a9941fe4272f3605c3cf3519999345faf3421ffad67509eeba8",
    "f1ee7e32e5b2a51f4e56d023d050b28fc52e3de8dd5f5f3f1d1c3a60c71765e3",
    "2d6b08eec13a1c35d2c9d6c0c56b806919fda68748412e1b6b8a8db96987e84e",
    "b29edfa5a948d1043078530cee3b2291466a903482050e5cbb2e0328ff691c92",
    "17224ea6122f0fdcf4e209c84a8f5c5704e2b40974035e9913f335e5ae7d15ff",
    "3e47f3b37b73519012d6ad1aa67894d9d35aa94089b64432e256f92425cc115c",
    "7082a118bd9a168b141982b025ef45d1fe3095386f2c3dc01f2c5f4a4829bf23",
    "c802aba048b8f08dc51ad3e1247edbd596cca4ae9892d080bff24b296ae365bb",
    "fa66f9e63ebd68ca91bf68bdcf77fa5939d930fb21e0559ca542515f86d10357",
    "76cd8ea9485a421683cbb47fd5af2e8b8a7968ae0796a00ccb703621b722b526",
    "dafa71a43b5fe138b769251c87528ce0fc05db852f77bf2605e6525a948da124",
    "5bdf29e23613fc1c79b040ebcefaac877e559ea4281c4ac11937f2d833c26206",
    "08212c560e9ddfcce24c4ecbb066474ea3821c0da8dd31abbfeff496762c9207",
    "7105a2e7793cffcfc6bfc2a0b851a9c6e2fa4876b5edac4dd4840355530f276e",
)
SHA256 = {
    "tinyshakespeare/input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "wikitext2/valid.txt": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
    "wikitext2/test.txt": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
    "sst2/stsa.binary.train": "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
    "sst2/stsa.binary.dev": "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
    "sst2/stsa.binary.test": "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
    "sick/SICK_train.txt": "266cf8047149bd1d68138dd30439f3122bff30069740ac6705bb6197d9f1b48e",
    "sick/SICK_trial.txt": "5a88cfb62f8c6bd2a3cce0f2421ba2cb8c2be5ab4a800f6f01e2c64aafb7db56",
    "sick/SICK_test_annotated.txt": "2b8aa806658d6fc23c6824c83776c2d4fee7556000817b5ec0f982861413b7d0",
    "glue_rte/train.tsv": "0222fd1ea26f263d325d28f5bf5cee4c58dd91cf15f1efa87f79eb714a991dc4",
    "glue_rte/dev.tsv": "e7e42b7ee79c36ebd780ebbdba525b939017da4ef9624c9e78b9ac2e69e36c28",
    "glue_rte/test.tsv": "e9bf6d2768eccbccfbd775fac3b8ff50283ecdef4b57caccdd694e17fa95250e",
    "clinc150/data_full.json": "36923c3705a59e08fe9c3883d8bc2dd966ef93e22cb78ac41171782a698d56e0",
    "snips/train_AddToPlaylist_full.json": "fee1b4645352e70ed8a40f1f87c3b53fc3bf75f8ebc82252a22b82c107e75b01",
    "snips/train_BookRestaurant_full.json": "7677e82cd6e9a8191f0a4502568c786278c984900b4796d3628e46f1abf73ef4",  # noqa: E501
    "snips/train_GetWeather_full.json": "86f414b2ad8a993134d85d16e25e5d337beae47cef993c0af2a5f440405c60f6",
    "snips/train_PlayMusic_full.json": "901ddbe9781d1fdb8196e789c543f80df3d29ca6e237da64947905adcc0312e4",
    "snips/train_RateBook_full.json": "bb43e4b74134300d5766f6b420d0357a63402987a225f6dc92c806c9c040ce04",
    "snips/train_SearchCreativeWork_full.json": "87b3432de48c71c205aa5238b41d9e3f2d70bdfcd0bea2427544fb9e4bd5e5bb",  # noqa: E501
    "snips/train_SearchScreeningEvent_full.json": "5447e9440c02e2fb08c3ae16b9f58a4d1332b4bc77fd34691402b02aa4399765",  # noqa: E501
    "snips/validate_AddToPlaylist.json": "14cc9ee49ae477b1452632a6e835498cf4c32da397b16967c82abb3e50403e83",
    "snips/validate_BookRestaurant.json": "4f7258ccc768b777b2eb8916532db9aa50dbd058ddf1ffb0dc59218963e7442a",
    "snips/validate_GetWeather.json": "60c095e193655d6ca92be220fed3926ca25e18cd70c85664145efe25d80993af",
    "snips/validate_PlayMusic.json": "922212775e26259d5bffeaf79b6048d070ca017d229df00b2cc9800f71c75d20",
    "snips/validate_RateBook.json": "c1f8b4114da0bb5e8afd78a8062766e18b2eabb0e717539598db01b09d04619b",
    "snips/validate_SearchCreativeWork.json": "8a5e830eddb185d3e4a9d27ded140a145d04766bdce0e58834676ede32d13e77",  # noqa: E501
    "snips/validate_SearchScreeningEvent.json": "81e1445713e03c7c3e615353c5f3fee05f369fe9834100b9b9735900a96b9498",  # noqa: E501
    "trec/TREC.train": "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
    "trec/TREC.test": "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
    "ag_news/classes.txt": "612dbfa932f07a6ed837295a7d5746ce7412e7bb4bc32ba919fdb3cda3a1b9b5",
    "ag_news/test.csv": "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
    "multi30k/train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "multi30k/train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "multi30k/val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "multi30k/val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "multi30k/test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "multi30k/test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "xquad/xquad.en.json": "e4c57d1c9143aaa1c5d265ba5987a65f4e69528d2a98f29d6e75019b10344f29",
    "scitldr/train.jsonl.gz": "b222771d387be585cfdf5ae957b36757138415a352e0a3e3b23f73f87c3b1119",
    "scitldr/dev.jsonl": "3191fa98ccc09521332b7a1cd63b1930be4e8df125a235ccd31e40329709525e",
    "scitldr/test.jsonl": "fb42dd6cd4f4a1928ae8a01a189456fbfe994a07e938bd49f68653933f6503c9",
    "stsbenchmark/sts-train.csv": "0f71910b59aa1ad973c5897f0791f3b0965a92b8f82b1a95f3eea9f4162fda82",
    "stsbenchmark/sts-dev.csv": "5d7e944d8b02734b07bfdb5df67db3420c64bed153fcaa1ba47ad03480cf4234",
    "stsbenchmark/sts-test.csv": "affe45928a66ee5a708531233c95b7dacbbdc57f974f002a3d32ea0180cf816a",
    **{f"wikipedia_en/{name}": digest for name, digest in zip(WIKI_FILES, _WIKI_SHA256, strict=True)},
}

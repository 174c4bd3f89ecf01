"""Content fingerprints, similarity scores and the persisted candidate index."""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import datasketch
import numpy as np
import pytest
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from govnews.core import fingerprint as fpm
from govnews.core.fingerprint import (
    Fingerprint,
    band_keys,
    band_probability,
    containment,
    content_similarity,
    fingerprint,
    normalise_title,
    numbers,
    numbers_agree,
    shingle_hashes,
    shingles,
    text_containment,
    text_jaccard,
    title_score,
    title_similarity,
)
from govnews.store import models
from govnews.store.textindex import (
    ArticleFingerprint,
    FingerprintBand,
    band_matches,
    candidates_by_bands,
    candidates_by_title,
    delete_fingerprint,
    load_fingerprints,
    prune_bands,
    rebuild_band_index,
    store_fingerprint,
    store_fingerprints,
)
from tests.conftest import expected_records

SEED_TITLE = "漳州召开2022年度全国文明城市创建工作动员会"


def record(title: str) -> dict[str, str]:
    """The hand-written expected record of the government page titled ``title``."""
    return next(r for r in expected_records() if r["title"] == title and r["kind"] == "gov")


SEED_BODY = record(SEED_TITLE)["body_text"]


def paragraphs(body: str) -> list[str]:
    """The paragraphs of a body text (separated by a blank line)."""
    return [p for p in body.split("\n\n") if p.strip()]


def pool(words: str) -> tuple[str, ...]:
    """The words of a blank-separated list."""
    return tuple(words.split())


# Generated articles: realistic vocabulary, statistics close to real agency news
# (3-shingle Jaccard of two unrelated generated articles: mean 0.014, max 0.035 in
# 300; between the snapshot's real articles: mean 0.006, max 0.055).

WORDS = pool("""
工作 建设 发展 推进 落实 加强 农业 农村 企业 项目 群众 服务 管理 安全 生产
经济 社会 城市 乡村 产业 市场 资金 政策 制度 机制 体系 质量 效率 环境 生态
保护 治理 改革 创新 科技 人才 教育 医疗 卫生 文化 旅游 交通 水利 能源 农田
粮食 畜牧 渔业 林业 茶叶 水果 蔬菜 种植 养殖 加工 销售 品牌 电商 物流 冷链
基地 园区 合作社 农户 农民 工资 就业 培训 技能 保险 保障 救助 帮扶 振兴 巩固
成果 考核 督查 检查 整改 问题 隐患 风险 防控 应急 预案 演练 宣传 引导 氛围
责任 任务 目标 计划 方案 措施 部署 会议 调研 座谈 交流 合作 签约 投资 招商
营商 审批 许可 执法 监管 抽检 检测 标准 规范 指导 窗口 办理 流程 系统 平台
数据 信息 网络 数字 智慧 设施 设备 工程 施工 进度 验收 拨付 预算 财政 专项
债券 贷款 补贴 奖励 示范 试点 推广 经验 做法 亮点 特色 优势 短板 弱项 薄弱
环节 重点 难点 堵点 痛点 需求 诉求 满意度 获得感 稳定 增长 提升 下降 扩大 优化
完善 健全 深化 拓展 强化 夯实 统筹 协调 联动 配合 衔接 对接 融合 带动 辐射
覆盖 延伸 集聚 转型 升级 提质 增效 降本 节能 减排 绿色 低碳 循环 高效 现代
优质 耕地 土壤 肥料 农药 种子 良种 农机 收割 播种 灌溉 排涝 台风 暴雨 干旱
低温 病虫害 疫情 防疫 免疫 消毒 生猪 家禽 水产 渔船 网箱 滩涂 山林 果园 茶园
蜜柚 荔枝 龙眼 香蕉 花卉 食用菌 芦柑 杨梅 枇杷 菜篮子 价格 劳动 合同 仲裁 调解
维权 欠薪 农民工 用人单位 施工单位 总承包 分包 实名制 专户 保证金 支付 清偿 追讨
投诉 举报 受理 核查 处理 结案 回访 公示 公告 通知 通报 意见 办法 细则 条例
法规 文件 精神 要求 部门 单位 乡镇 街道 社区 村居 网格 党员 干部 志愿者 专家
技术员 骨干 带头人 致富 增收 收入 效益 产值 规模 总量
""")
_WEIGHTS = list(accumulate(1 / (rank + 20) for rank in range(len(WORDS))))
PLACES = pool("""
芗城区 龙文区 龙海区 长泰区 漳浦县 云霄县 诏安县 东山县 平和县 南靖县 华安县
漳州高新区 古雷开发区 石码街道 前亭镇 赤湖镇 官陂镇 小溪镇 山城镇 丰山镇 岩溪镇
""")
AGENCIES = pool("""
市农业农村局 市人社局 市住建局 市市场监管局 市生态环境局 市交通运输局 市水利局
市林业局 市商务局 市卫健委 市教育局 市应急管理局 市自然资源局 市文旅局 市工信局
""")
FRAMES = ("会议强调，", "会议要求，", "据了解，", "下一步，", "今年以来，", "会上，", "此外，")
SURNAMES = "张王李陈林黄吴郑蔡杨许周曾何洪卢苏沈蓝潘"
GIVEN = "国文明建华志强海军丽芳永清春秋伟东南兴旺进德福荣平安宏辉晓红燕斌勇涛杰鸿"


def _clause(rng: random.Random) -> str:
    """Three to six words."""
    return "".join(rng.choices(WORDS, cum_weights=_WEIGHTS, k=rng.randint(3, 6)))


def _sentence(rng: random.Random) -> str:
    """One sentence: an opening (a frame, a speaker, a date and agency), clauses, a figure."""
    head = rng.random()
    if head < 0.25:
        opening = rng.choice(FRAMES)
    elif head < 0.35:
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        opening = f"{rng.choice(PLACES)}{name}表示，"
    elif head < 0.45:
        opening = f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日，{rng.choice(AGENCIES)}"
    else:
        opening = ""
    body = "，".join(_clause(rng) for _ in range(rng.randint(1, 3)))
    tail = rng.random()
    if tail < 0.2:
        figure = f"，共{rng.randint(2, 900)}{rng.choice('个家人名项户亩吨场次')}"
    elif tail < 0.3:
        figure = f"，投入资金{rng.randint(10, 9000)}万元"
    elif tail < 0.35:
        figure = f"，同比增长{rng.randint(1, 40)}.{rng.randint(0, 9)}%"
    else:
        figure = ""
    return f"{opening}{body}{figure}。"


def generated_article(rng: random.Random, size: int = 600) -> tuple[str, str]:
    """A generated government news article ``(title, body)`` of about ``size`` characters."""
    title = f"{rng.choice(AGENCIES)}{_clause(rng)}"
    parts: list[str] = []
    length = 0
    while length < size:
        paragraph = "".join(_sentence(rng) for _ in range(rng.randint(2, 4)))
        parts.append(paragraph)
        length += len(paragraph)
    return title, "\n\n".join(parts)


# Edits a repost makes.


def repunctuate(body: str) -> str:
    """Half-width punctuation, spaces, full-width digits, straight quotes."""
    table = str.maketrans({"，": ", ", "。": ". ", "：": ": ", "“": '"', "”": '"', "2": "２"})
    return body.translate(table)


def drop_paragraph(body: str, index: int = 2) -> str:
    """The body without its paragraph ``index``."""
    parts = paragraphs(body)
    return "\n\n".join(parts[:index] + parts[index + 1 :])


def trim(body: str, share: float) -> str:
    """The first ``share`` of the body's paragraphs (a repost cut short)."""
    parts = paragraphs(body)
    return "\n\n".join(parts[: max(1, round(len(parts) * share))])


# Titles and tokens ---------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "key"),
    [
        (SEED_TITLE, "漳州召开2022年度全国文明城市创建工作动员会"),
        (
            "漳州召开2022年度 “全国文明城市” 创建工作动员会！",
            "漳州召开2022年度全国文明城市创建工作动员会",
        ),
        (
            "漳州召开２０２２年度全国文明城市创建工作动员会",
            "漳州召开2022年度全国文明城市创建工作动员会",
        ),
        (
            "【转载】漳州召开2022年度全国文明城市创建工作动员会",
            "漳州召开2022年度全国文明城市创建工作动员会",
        ),
        ("[图文] 市农业农村局开展春季农业生产督导服务", "市农业农村局开展春季农业生产督导服务"),
        (
            "市农业农村局开展春季农业生产督导服务 - 漳州市人民政府",
            "市农业农村局开展春季农业生产督导服务",
        ),
        (
            "市农业农村局开展春季农业生产督导服务_工作动态_漳州市农业农村局",
            "市农业农村局开展春季农业生产督导服务",
        ),
        (
            "市农业农村局开展春季农业生产督导服务｜中国政府网",
            "市农业农村局开展春季农业生产督导服务",
        ),
        (
            "市农业农村局开展春季农业生产督导服务——农民工法治网",
            "市农业农村局开展春季农业生产督导服务",
        ),
        (
            "关于《漳州市2022年农产品质量安全监管工作要点》的通知",
            "关于漳州市2022年农产品质量安全监管工作要点的通知",
        ),
        ("COVID-19防控指挥部通告", "covid19防控指挥部通告"),
        (
            "庆丰收 迎盛会 漳州2022年农民丰收节活动23日启幕",
            "庆丰收迎盛会漳州2022年农民丰收节活动23日启幕",
        ),
        ("", ""),
    ],
)
def test_normalise_title(title: str, key: str) -> None:
    assert normalise_title(title) == key
    assert normalise_title(key) == key


def test_shingles_are_characters_and_ascii_runs() -> None:
    assert shingles("漳州市，农业") == {"漳州市", "州市农", "市农业"}
    assert shingles("GDP 2022年增长") == {"gdp 2022年", "2022年增", "年增长"}
    assert shingles("漳州") == {"漳州"}
    assert shingles(" ，。") == set()
    assert shingles("漳州市农业", n=2) == {"漳州", "州市", "市农", "农业"}


def test_shingle_hashes_count_the_same_shingles() -> None:
    rng = random.Random(1)
    texts = [
        SEED_BODY,
        "GDP 2022年增长5.5% covid 19 H7N9",
        *[generated_article(rng)[1] for _ in range(20)],
    ]
    for body in texts:
        assert shingle_hashes(body).size == len(shingles(body))
        assert fingerprint("", body).length == len(fpm.tokens(body))
    assert shingle_hashes("").size == 0


@pytest.mark.parametrize(
    "text",
    [
        SEED_BODY,
        "ＡＢＣ１２３，全角字母与数字：ｗｗｗ．ｚｈａｎｇｚｈｏｕ．ｇｏｖ．ｃｎ",
        "面积120㎡，气温35℃，①②③ 第Ⅳ期",
        "café résumé e\u0301 한국어 \u1100\u1161\u11a8 ㄱㅏ",
        "𠀀𠀁 CJK 扩展 B，𝐀𝐁𝐂 数学字母，😀 表情",
        "省略号……与感叹号‼混排",
    ],
)
def test_folding_is_nfkc(text: str) -> None:
    """The vectorised folding gives NFKC and lower case (punctuation-only forms as a space)."""
    folded = fpm._normalise_body(text)
    reference = unicodedata.normalize("NFKC", text).lower()
    assert fpm._NON_WORD.split(folded) == fpm._NON_WORD.split(reference)
    assert fpm.tokens(text) == re.findall(r"[a-z0-9]+|[^\W_]", reference)
    assert shingle_hashes(text).size == len(shingles(text))


def test_numbers_with_units() -> None:
    found = numbers("2022年8月18日，投入1,200万元，增长3.5%，帮助37名农民工。第11号台风 500 万元")
    assert found == {"2022年", "8月", "18日", "1200万", "3.5%", "37名", "11号", "500万"}
    found = numbers("上午8：30，电话：0596-2851236，2022.08.18，0.5，共12,300人，2021,2022年")
    assert found == {"8:30", "596-2851236", "2022.8.18", "0.5", "12300人", "2021", "2022年"}
    assert numbers("二〇二二年八月十八日") == numbers("2022年08月18日") == {"2022年", "8月", "18日"}
    assert numbers("二〇二二年十二月三十一日") == {"2022年", "12月", "31日"}
    assert numbers("没有数字") == frozenset()


# Signatures ----------------------------------------------------------------


def test_signature_matches_datasketch_affine32() -> None:
    hashes = shingle_hashes(SEED_BODY)
    reference = datasketch.MinHash(
        num_perm=fpm.NUM_PERM, permutations=fpm.permutations(), scheme="affine32", hashfunc=int
    )
    reference.update_batch(hashes.tolist())
    fp = fingerprint(SEED_TITLE, SEED_BODY)
    assert np.array_equal(reference.hashvalues, fp.minhash)
    other = fingerprint("", drop_paragraph(SEED_BODY))
    assert fp.to_minhash().jaccard(other.to_minhash()) == content_similarity(fp, other)


def test_fingerprints_are_stable() -> None:
    """Stored fingerprints and band keys stay valid: the scheme must not drift."""
    fp = fingerprint(SEED_TITLE, "漳州市农业农村局召开全市高标准农田建设工作推进会。")
    assert fp.minhash.dtype == np.uint32 and fp.minhash.size == 128
    assert shingle_hashes("漳州市农业 GDP2022").tolist() == [
        85843221,
        202942940,
        328499886,
        1826165256,
    ]
    assert fp.minhash[:3].tolist() == [103464720, 697808277, 72584616]
    assert band_keys(fp)[:2] == [5822992391256636735, 2591814903258678686]
    assert all(-(2**63) <= key < 2**63 for key in band_keys(fingerprint("", SEED_BODY)))
    assert any(key < 0 for key in band_keys(fingerprint("", SEED_BODY)))


def test_empty_and_short_bodies() -> None:
    empty = fingerprint("标题", "")
    assert empty.is_empty and empty.length == 0 and band_keys(empty) == []
    assert content_similarity(empty, empty) == 0.0
    assert containment(empty, fingerprint("", SEED_BODY)) == 0.0
    short = fingerprint("标题", "通知。")
    assert short.shingle_count == 1 and band_keys(short) == []


# Near duplicates and hard negatives ------------------------------------------


def test_near_duplicates_score_high() -> None:
    original = fingerprint(SEED_TITLE, SEED_BODY)
    punctuated = fingerprint(f"{SEED_TITLE}！ - 农民工法治网", repunctuate(SEED_BODY))
    assert punctuated.title_key == original.title_key
    assert content_similarity(punctuated, original) == 1.0
    assert numbers_agree(punctuated, original) == 1.0

    dropped = fingerprint(SEED_TITLE, drop_paragraph(SEED_BODY))
    assert content_similarity(dropped, original) >= 0.7
    assert containment(dropped, original) >= 0.9
    assert numbers_agree(dropped, original) == 1.0

    trimmed = fingerprint(SEED_TITLE, trim(SEED_BODY, 0.5))
    assert content_similarity(trimmed, original) >= 0.3
    assert containment(trimmed, original) >= 0.85
    assert text_containment(trim(SEED_BODY, 0.5), SEED_BODY) == 1.0

    retitled = fingerprint("漳州吹响文明城市创建冲锋号", SEED_BODY, original_title=SEED_TITLE)
    assert title_similarity(retitled.title_key, original.title_key) < 0.3
    assert title_score(retitled, original) == 1.0
    assert content_similarity(retitled, original) == 1.0

    noted = "（来源：漳州市农业农村局 责任编辑：陈明）\n\n" + SEED_BODY
    assert content_similarity(fingerprint("", noted), original) >= 0.9


def test_truncated_titles() -> None:
    full = "市农业农村局部署防御第11号台风“轩岚诺”农业生产工作"
    assert title_similarity("市农业农村局部署防御第11号台风…", full) >= 0.8
    assert title_similarity("部署防御第11号台风“轩岚诺”农业生产工作", full) >= 0.9
    assert title_similarity("通知", "关于召开会议的通知") < 0.5


def test_snapshot_reposts_pair_with_their_originals_only() -> None:
    """Real pages: each portal copy of a government article, and no other pair, scores high."""
    gov = [r for r in expected_records() if r["kind"] == "gov"]
    portal = [r for r in expected_records() if r["kind"] == "portal"]
    gov_fps = [fingerprint(r["title"], r["body_text"], r.get("original_title")) for r in gov]
    pairs = 0
    for repost in portal:
        fp = fingerprint(repost["title"], repost["body_text"], repost.get("original_title"))
        for original, gov_fp in zip(gov, gov_fps, strict=True):
            same = original["body_text"] == repost["body_text"]
            pairs += same
            if same:
                assert content_similarity(fp, gov_fp) == 1.0
                assert title_score(fp, gov_fp) == 1.0
            else:
                assert content_similarity(fp, gov_fp) < 0.15
                assert title_score(fp, gov_fp) < 0.6
    assert pairs >= 6


def test_different_news_of_one_agency_on_one_day_score_low() -> None:
    first = fingerprint(
        "市农业农村局召开全市高标准农田建设工作推进会",
        "9月26日，市农业农村局召开全市高标准农田建设工作推进会，通报前三季度项目建设进展，"
        "部署下阶段重点工作。会议指出，今年全市高标准农田建设任务15.2万亩，已开工项目41个，"
        "开工率66.1%。会议要求，各县（区）要倒排工期、挂图作战，严把工程质量关，确保年底前"
        "全面完工，切实把高标准农田建成“吨粮田”。",
    )
    second = fingerprint(
        "市农业农村局部署秋冬种农业生产工作",
        "9月26日，市农业农村局召开全市秋冬种农业生产工作会议，分析当前农业生产形势，部署"
        "秋冬种各项工作。会议要求，各地要抓好马铃薯、蔬菜等秋冬作物种植，落实种子、化肥、"
        "农药等农资供应，加强技术指导服务，确保秋冬种面积稳定在85万亩以上，为明年粮食丰收"
        "打好基础。",
    )
    assert content_similarity(first, second) < 0.15
    assert title_score(first, second) < 0.5
    assert numbers_agree(first, second) < 0.5


MEETING_NOTICE = """各县（区）农业农村局，局属有关单位：

为{purpose}，经研究，定于{month}月{day}日在{place}召开{meeting}。现将有关事项通知如下：

一、会议时间

{month}月{day}日上午{hour}:30，会期{days}天。

二、会议地点

{place}（{address}）。

三、参会人员

各县（区）农业农村局分管领导及{division}负责人。

四、有关要求

请各单位于{month}月{deadline}日前将参会回执报送至市农业农村局{office}，联系人：{contact}，电话：{phone}。

漳州市农业农村局

2022年{month}月{sign}日"""

TENDER_NOTICE = """一、项目基本情况

项目编号：ZZNY-2022-{code}

项目名称：{project}

预算金额：{budget}万元，最高限价：{cap}万元

采购需求：{need}

合同履行期限：自合同签订之日起{period}日内完成。

二、申请人的资格要求

满足《中华人民共和国政府采购法》第二十二条规定；本项目不接受联合体投标。

三、获取招标文件

时间：2022年{month}月{start}日至2022年{month}月{end}日，每天上午8:30至12:00，下午15:00至17:30。

地点：漳州市公共资源交易中心

四、提交投标文件截止时间、开标时间和地点

2022年{month2}月{open}日9时30分，漳州市公共资源交易中心{room}开标室。

五、联系方式

采购人：漳州市农业农村局；联系人：{contact}；电话：0596-{phone}"""


def test_template_notices_are_alike_but_their_numbers_disagree() -> None:
    meetings = [
        MEETING_NOTICE.format(
            purpose="推进全市高标准农田建设",
            month=8,
            day=18,
            place="漳浦县",
            hour=9,
            days=1,
            address="绥安镇金浦路8号",
            meeting="全市高标准农田建设现场推进会",
            division="农田建设科",
            deadline=12,
            office="农田建设科",
            contact="林晓",
            phone="0596-2851236",
            sign=10,
        ),
        MEETING_NOTICE.format(
            purpose="推进全市高标准农田建设",
            month=10,
            day=9,
            place="诏安县",
            hour=8,
            days=2,
            address="南诏镇东城路16号",
            meeting="全市高标准农田建设现场推进会",
            division="农田建设科",
            deadline=3,
            office="农田建设科",
            contact="陈明",
            phone="0596-2852017",
            sign=28,
        ),
    ]
    tenders = [
        TENDER_NOTICE.format(
            code="017",
            project="漳浦县高标准农田建设项目监理服务",
            budget=126,
            cap=120,
            need="高标准农田建设项目施工全过程监理",
            period=240,
            month=8,
            start=19,
            end=25,
            month2=9,
            open=9,
            room="第三",
            contact="林晓",
            phone="2851236",
        ),
        TENDER_NOTICE.format(
            code="031",
            project="诏安县农业面源污染治理项目检测服务",
            budget=58,
            cap=55,
            need="农业面源污染治理项目土壤与水质检测",
            period=150,
            month=10,
            start=11,
            end=17,
            month2=11,
            open=2,
            room="第一",
            contact="陈明",
            phone="2852017",
        ),
    ]
    for first, second in (meetings, tenders):
        fa, fb = fingerprint("通知", first), fingerprint("通知", second)
        assert text_jaccard(first, second) >= 0.4
        assert content_similarity(fa, fb) >= 0.35
        assert containment(fa, fb) >= 0.5
        assert numbers_agree(fa, fb) < 0.5
        assert numbers_agree(fb, fa) < 0.5
        assert numbers_agree(fa, fingerprint("", repunctuate(first))) == 1.0


def test_generated_articles_are_unrelated() -> None:
    rng = random.Random(5)
    fps = [fingerprint(*generated_article(rng)) for _ in range(200)]
    scores = [content_similarity(a, b) for i, a in enumerate(fps) for b in fps[i + 1 :]]
    assert max(scores) < 0.15
    assert float(np.mean(scores)) < 0.03


def test_band_probability_s_curve() -> None:
    assert band_probability(0.5) > 0.99
    assert band_probability(0.7) > 0.9999
    assert band_probability(0.05) < 0.01
    rng = random.Random(11)
    missed: list[float] = []
    for _ in range(300):
        title, body = generated_article(rng, 800)
        cut = trim(body, 0.5)
        if not set(band_keys(fingerprint(title, body))) & set(band_keys(fingerprint(title, cut))):
            missed.append(text_jaccard(body, cut))
    # Halving a body leaves a Jaccard similarity of 0.3 to 0.65; only the lowest are missed.
    assert len(missed) <= 10
    assert all(similarity < 0.5 for similarity in missed)


# The persisted index -------------------------------------------------------


def add_articles(session: Session, articles: Iterable[tuple[str, str]]) -> list[int]:
    """Insert minimal ``articles`` rows for ``(title, body)`` pairs; return their ids."""
    now = datetime(2022, 8, 19, tzinfo=UTC)
    start = session.scalar(select(func.coalesce(func.max(models.ArticleRow.id), 0))) or 0
    rows: list[dict[str, Any]] = [
        {
            "id": start + n,
            "url": f"http://nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/{start + n}.html",
            "url_key": f"nyncj.zhangzhou.gov.cn/cms/html/zzsnyj/2022-08-18/{start + n}.html",
            "site": "nyncj.zhangzhou.gov.cn",
            "kind": "gov",
            "title": title,
            "body_text": body,
            "body_html": "",
            "images": [],
            "attachments": [],
            "provenance": {},
            "fingerprint": "",
            "fetched_at": now,
        }
        for n, (title, body) in enumerate(articles, start=1)
    ]
    session.execute(insert(models.ArticleRow), rows)
    return [int(row["id"]) for row in rows]


def test_store_load_and_replace(session: Session) -> None:
    [first, second] = add_articles(session, [(SEED_TITLE, SEED_BODY), ("x", "y")])
    fp = fingerprint("漳州吹响文明城市创建冲锋号", SEED_BODY, original_title=SEED_TITLE)
    assert store_fingerprint(session, first, fp)
    assert not store_fingerprint(session, first, fp)
    assert load_fingerprints(session, [first, second, 999]) == {first: fp}
    assert session.scalar(select(func.count()).select_from(FingerprintBand)) == fpm.BANDS

    changed = fingerprint(SEED_TITLE, trim(SEED_BODY, 0.5))
    assert store_fingerprint(session, first, changed)
    assert load_fingerprints(session, [first])[first] == changed
    stored = set(session.scalars(select(FingerprintBand.band)))
    assert stored == set(band_keys(changed))

    assert candidates_by_title(session, "漳州召开2022年度 “全国文明城市” 创建工作动员会") == []
    assert candidates_by_title(session, normalise_title(SEED_TITLE)) == [first]
    store_fingerprint(session, second, fp)
    assert candidates_by_title(session, [changed.title_key, "无关"]) == [second, first]
    assert candidates_by_title(session, "漳州吹响文明城市创建冲锋号") == [second]
    assert candidates_by_title(session, "") == []


def test_fingerprints_go_with_their_article(session: Session) -> None:
    [first, second] = add_articles(session, [(SEED_TITLE, SEED_BODY), ("x", "y")])
    fp = fingerprint(SEED_TITLE, SEED_BODY)
    store_fingerprints(session, [(first, fp), (second, fingerprint("x", SEED_BODY))])
    assert [i for i, _ in band_matches(session, fp)] == [second, first]

    session.execute(delete(models.ArticleRow).where(models.ArticleRow.id == first))
    assert set(session.scalars(select(ArticleFingerprint.article_id))) == {second}
    # Its band rows stay until pruned, but are never returned.
    assert candidates_by_bands(session, fp) == [second]
    assert prune_bands(session) == fpm.BANDS
    assert set(session.scalars(select(FingerprintBand.article_id))) == {second}

    assert delete_fingerprint(session, second)
    assert not delete_fingerprint(session, second)
    assert session.scalar(select(func.count()).select_from(FingerprintBand)) == 0


def test_a_reused_article_id_takes_over_stale_band_rows(session: Session) -> None:
    [first] = add_articles(session, [(SEED_TITLE, SEED_BODY)])
    fp = fingerprint(SEED_TITLE, SEED_BODY)
    store_fingerprint(session, first, fp)
    session.execute(delete(models.ArticleRow).where(models.ArticleRow.id == first))
    assert add_articles(session, [(SEED_TITLE, SEED_BODY)]) == [first]
    assert store_fingerprint(session, first, fp)
    assert candidates_by_bands(session, fp) == [first]


def test_bulk_writes_belong_to_the_transaction(session: Session) -> None:
    [first] = add_articles(session, [(SEED_TITLE, SEED_BODY)])
    session.commit()
    store_fingerprint(session, first, fingerprint(SEED_TITLE, SEED_BODY))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ArticleFingerprint)) == 0
    assert session.scalar(select(func.count()).select_from(FingerprintBand)) == 0


def test_rebuild_band_index(session: Session) -> None:
    rng = random.Random(3)
    corpus = [generated_article(rng) for _ in range(300)] + [("短", "通知。")]
    ids = add_articles(session, corpus)
    store_fingerprints(session, ((i, fingerprint(*a)) for i, a in zip(ids, corpus, strict=True)))
    rows = select(FingerprintBand.band, FingerprintBand.article_id)
    before = {tuple(row) for row in session.execute(rows)}
    assert len(before) == 300 * fpm.BANDS
    assert rebuild_band_index(session) == 300 * fpm.BANDS
    assert {tuple(row) for row in session.execute(rows)} == before


def test_band_lookup_finds_the_near_duplicate_among_10000(session: Session) -> None:
    rng = random.Random(2022)
    corpus = [generated_article(rng, rng.choice((200, 400, 800))) for _ in range(10_000)]
    ids = add_articles(session, [*corpus, (SEED_TITLE, SEED_BODY)])
    original_id = ids[-1]
    store_fingerprints(
        session,
        ((i, fingerprint(title, body)) for i, (title, body) in zip(ids, corpus, strict=False)),
    )
    store_fingerprint(session, original_id, fingerprint(SEED_TITLE, SEED_BODY))
    assert session.scalar(select(func.count()).select_from(ArticleFingerprint)) == 10_001

    reposts = [
        fingerprint("漳州吹响文明城市创建冲锋号", drop_paragraph(SEED_BODY), SEED_TITLE),
        fingerprint(SEED_TITLE, repunctuate(trim(SEED_BODY, 0.6))),
    ]
    for repost in reposts:
        matches = band_matches(session, repost, limit=10_000)
        assert matches[0][0] == original_id
        assert len(matches) < 50
        assert candidates_by_bands(session, repost, limit=5)[0] == original_id
        assert candidates_by_bands(session, repost, exclude=original_id)[:1] != [original_id]

    # A generated article and a trimmed copy of it: found, with few others.
    title, body = corpus[1234]
    matches = band_matches(session, fingerprint(title, trim(body, 0.7)), limit=10_000)
    assert matches[0][0] == ids[1234]
    assert len(matches) < 50

    plan = " ".join(
        str(row[-1])
        for row in session.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT article_id, count(*) FROM fingerprint_bands "
                "WHERE band IN (1, 2, 3) GROUP BY article_id"
            )
        )
    )
    assert "SEARCH fingerprint_bands" in plan and "SCAN fingerprint_bands" not in plan


def test_fingerprint_type() -> None:
    fp = fingerprint(SEED_TITLE, SEED_BODY, "  ")
    assert isinstance(fp, Fingerprint)
    assert fp.original_title_key is None and fp.title_keys == (fp.title_key,)
    assert fp == fingerprint(SEED_TITLE, SEED_BODY)
    assert fp != fingerprint(SEED_TITLE, SEED_BODY + "。补充")
    assert re.fullmatch(r"[0-9a-z\u3400-\u9fff]+", fp.title_key)

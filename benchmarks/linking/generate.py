"""Realistic-looking generated articles for the linking scale benchmark.

Government originals from fifty agency sites of eight Fujian cities and portal
reposts of them, in publication order over two years. Bodies (400–3,000
characters) are built from about 80 sentence templates of government news whose
wording is varied by near-synonyms and connectives and whose names, places, dates
and numbers change, over 120 topics; titles from 30 title templates. Government
news is formulaic and so is this text: two unrelated generated articles share on
average 8% of their 5-character shingles (99th percentile 18%), which makes
candidate lookup by shingles work harder than on varied prose. About 10% of the
articles are portal reposts of an original published up to three days before,
with the edits reposts make: a new title with 原标题, a trimmed end, a dropped
paragraph, half-width punctuation, shortened agency names (漳州农业农村局,
市农业农村局, 漳州市人社局, …网站), a 原文链接 on 30%; 8% of the reposts have no
stored original (an outlet's article or an uncrawled page). Deterministic for a
seed.

    python -m benchmarks.linking.generate --count 5   # print a few, to look at them
"""

from __future__ import annotations

import argparse
import random
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from govnews.core.urls import url_key
from govnews.items import content_hash

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2021, 1, 1, 8, 0, tzinfo=SHANGHAI)
DAYS = 730

# fmt: off
# city, short name, host label, region code, CMS family, counties
CITIES: list[tuple[str, str, str, str, str, list[str]]] = [
    ("漳州市", "漳州", "zhangzhou", "350600", "fujian",
     ["芗城区", "龙文区", "龙海区", "长泰区", "漳浦县", "云霄县", "诏安县", "东山县", "南靖县",
      "平和县", "华安县"]),
    ("厦门市", "厦门", "xm", "350200", "trs",
     ["思明区", "湖里区", "集美区", "海沧区", "同安区", "翔安区"]),
    ("泉州市", "泉州", "quanzhou", "350500", "trs",
     ["鲤城区", "丰泽区", "洛江区", "泉港区", "惠安县", "安溪县", "永春县", "德化县", "晋江市",
      "石狮市", "南安市"]),
    ("龙岩市", "龙岩", "longyan", "350800", "trs",
     ["新罗区", "永定区", "长汀县", "上杭县", "武平县", "连城县", "漳平市"]),
    ("三明市", "三明", "sm", "350400", "fujian",
     ["三元区", "沙县区", "明溪县", "清流县", "宁化县", "大田县", "尤溪县", "将乐县", "泰宁县",
      "建宁县", "永安市"]),
    ("莆田市", "莆田", "putian", "350300", "fujian",
     ["城厢区", "涵江区", "荔城区", "秀屿区", "仙游县"]),
    ("南平市", "南平", "np", "350700", "trs",
     ["延平区", "建阳区", "顺昌县", "浦城县", "光泽县", "松溪县", "政和县", "邵武市", "武夷山市",
      "建瓯市"]),
    ("宁德市", "宁德", "ningde", "350900", "fujian",
     ["蕉城区", "霞浦县", "古田县", "屏南县", "寿宁县", "周宁县", "柘荣县", "福安市", "福鼎市"]),
]

# host label, full name after the city, abbreviation (or ""), topics
AGENCIES: list[tuple[str, str, str, list[str]]] = [
    ("www", "人民政府", "政府", [
        "经济运行", "重点项目建设", "营商环境优化", "为民办实事项目", "安全生产", "乡村振兴",
        "招商引资", "城市管理", "生态文明建设", "机关作风建设"]),
    ("nyncj", "农业农村局", "", [
        "秋季农作物病虫害统防统治", "高标准农田建设", "农村人居环境整治提升", "农业社会化服务",
        "农资打假专项治理", "动物疫病防控", "高素质农民培育", "农产品质量安全监管",
        "乡村特色产业发展", "冬春农田水利建设"]),
    ("rsj", "人力资源和社会保障局", "人社局", [
        "根治欠薪", "高校毕业生就业", "职业技能提升行动", "社会保险扩面征缴",
        "劳动人事争议调解仲裁", "人力资源市场秩序整治", "返乡创业扶持", "工伤预防",
        "稳岗扩岗", "技工教育"]),
    ("sfj", "司法局", "", [
        "法律明白人培养", "人民调解", "公共法律服务体系建设", "社区矫正", "普法宣传",
        "法律援助", "行政复议", "律师行业管理", "安置帮教", "法治乡村建设"]),
    ("sthjj", "生态环境局", "环境局", [
        "大气污染防治", "水污染防治", "土壤污染防治", "生态环境执法", "排污许可管理",
        "农村生活污水治理", "固体废物规范化管理", "生态环境保护督察整改", "近岸海域污染治理",
        "碳排放权交易"]),
    ("zjj", "住房和城乡建设局", "住建局", [
        "老旧小区改造", "城镇燃气安全整治", "建筑施工安全生产", "保障性租赁住房建设",
        "房地产市场秩序整治", "城市更新", "农村危房改造", "建筑工地扬尘治理", "海绵城市建设",
        "物业服务提升"]),
    ("jtj", "交通运输局", "交通局", [
        "农村公路建设", "道路运输安全整治", "城乡客运一体化", "交通运输综合执法",
        "高速公路建设", "港口航道建设", "公交服务提升", "货车超限超载治理", "四好农村路",
        "交通物流保通保畅"]),
    ("wjw", "卫生健康委员会", "卫健委", [
        "基层医疗卫生服务能力提升", "家庭医生签约服务", "传染病防控", "医疗质量安全",
        "妇幼健康服务", "爱国卫生运动", "老龄健康服务", "紧密型医共体建设", "疫苗接种",
        "健康科普"]),
    ("scjgj", "市场监督管理局", "市场监管局", [
        "食品安全监督抽检", "特种设备安全", "价格监督检查", "知识产权保护", "计量器具检定",
        "药品安全专项整治", "网络交易监管", "个体工商户帮扶", "广告监测", "质量提升"]),
    ("yjj", "应急管理局", "应急局", [
        "安全生产专项整治", "防汛防台风", "森林防灭火", "危险化学品安全", "应急救援演练",
        "自然灾害风险普查", "消防安全", "非煤矿山安全", "安全生产月", "避灾点建设"]),
    ("slj", "水利局", "", [
        "河湖长制", "水土保持", "小型水库安全运行", "农村饮水安全", "水旱灾害防御",
        "水资源管理", "河道采砂管理", "幸福河湖建设", "水利工程建设", "节水型社会建设"]),
    ("mzj", "民政局", "", [
        "社会救助兜底保障", "养老服务体系建设", "未成年人保护", "社会组织管理", "殡葬改革",
        "婚姻登记服务", "城乡社区治理", "慈善事业发展", "残疾人两项补贴", "区划地名管理"]),
]

# The 50 sites: every city's government and agencies picked round the list.
SITE_COUNT = 50

PORTALS: list[tuple[str, str, list[str]]] = [
    ("www.nmgfzw.cn", "农民工法治网", ["shgz", "fzdt", "ldbz", "wqfw"]),
    ("www.jljzx.cn", "九龙江资讯网",
     ["zhangzhou/sannong", "zhangzhou/shizheng", "zhangzhou/minsheng"]),
    ("www.jcfzgc.cn", "中国基层法治观察网", ["html/dffz", "html/sfxz", "html/fzsn"]),
    ("www.mnxczx.cn", "闽南乡村资讯网", ["news/xczx", "news/nyjj"]),
    ("www.haixizw.com", "海西政务网", ["zwdt", "bmdt", "sxdt"]),
    ("www.fjsqxw.cn", "福建社区新闻网", ["sqdt", "msgz"]),
    ("www.zgjcgc.cn", "中国基层观察网", ["difang", "zhengwu"]),
    ("news.dnfjw.com", "东南福建网", ["fujian", "shehui"]),
]
OUTLETS = ["工人日报", "福建日报", "人民网", "新华网", "东南网", "海峡导报", "法治日报"]

SURNAMES = "陈林黄张李王吴刘蔡杨郑许谢郭洪邱曾廖赖周徐苏叶庄吕江何罗高潘朱余"
GIVEN = "志明建国文华晓燕丽芳海峰国栋俊杰雅玲春生振华秀英伟东永强美玲德胜清泉立新金水玉兰"
TOWNS = ["城关镇", "东园镇", "山城镇", "马坪镇", "霞寨镇", "书洋镇", "岩溪镇", "下河乡", "红星乡",
         "古田镇", "新泉镇", "角美镇", "靖城镇", "小溪镇", "坂仔镇", "官陂镇", "南胜镇", "龙山镇"]
ROLES = ["局长", "党组书记、局长", "副局长", "党组成员、副局长", "二级调研员", "总工程师"]

# Title templates: {city} 漳州市, {short} 漳州, {dept} 市农业农村局, {topic}, {county}, {n}, {year}.
TITLES = """
{dept}召开{topic}工作推进会
{short}扎实推进{topic}工作
{city}部署{topic}工作
{county}多措并举抓好{topic}
{dept}开展{topic}专项行动
{short}：{topic}取得阶段性成效
我市召开{topic}工作会议
{city}{year}年{topic}工作会议召开
{dept}举办{topic}业务培训班
{county}召开{topic}现场会
{dept}赴{county}调研{topic}工作
{short}{topic}工作经验获省级推广
我市全面启动{topic}工作
{dept}部署{topic}百日攻坚行动
{county}创新举措推进{topic}
{short}开展{topic}督导检查
{dept}召开{topic}联席会议
{short}：织密{topic}“防护网”
{city}印发{topic}实施方案
{dept}组织开展{topic}集中宣传活动
{county}{topic}工作走在全市前列
全市{topic}工作推进会在{county}召开
{dept}传达学习{topic}工作会议精神
{short}{topic}三年行动圆满收官
{county}：{topic}跑出“加速度”
{dept}通报{year}年上半年{topic}工作情况
{short}{n}个{topic}项目集中签约
{city}召开{topic}新闻发布会
{dept}开展“{topic}”主题开放日活动
{short}持续深化{topic}
""".strip().splitlines()

# Sentence templates of government news; one paragraph is two to five of them.
SENTENCES = """
{md}，{dept}召开全市{topic}工作推进会，总结前一阶段工作，分析存在问题，部署下一阶段重点任务。
{md}，{city}{topic}工作会议在{county}召开，各县（市、区）分管负责同志参加会议。
为深入贯彻落实上级关于{topic}的决策部署，近日，{dept}在全市范围内组织开展{topic}专项行动。
{md}至{md2}，{dept}组织{n}个督导组，深入各县（市、区）开展{topic}督导检查。
近日，{city}印发《关于进一步加强{topic}工作的实施方案》，明确了今后一个时期的目标任务和保障措施。
{md}，{dept}{role}{person}带队赴{county}{town}调研{topic}工作，实地察看项目进展情况。
记者从{dept}获悉，今年以来，全市{topic}工作稳步推进，各项指标均好于序时进度。
会议指出，{topic}事关人民群众切身利益，事关经济社会发展大局，必须始终摆在突出位置。
会议指出，今年以来，全市各级各部门认真落实{topic}各项任务，取得了明显成效。
会议指出，当前{topic}工作仍面临不少困难和挑战，部分地区工作进展不平衡，基础仍较薄弱。
会议要求，各地要进一步提高政治站位，压紧压实工作责任，确保{topic}各项任务按期完成。
会议要求，要坚持问题导向，对照年度目标任务逐项梳理，对进度滞后的工作挂图作战、倒排工期。
会议要求，要加强部门协作，形成工作合力，健全{topic}长效机制，推动工作常态化、规范化。
会议强调，要聚焦重点领域和关键环节，持续加大工作力度，以钉钉子精神抓好{topic}落实。
会议强调，要加强宣传引导，及时总结推广基层好经验好做法，营造全社会共同参与的良好氛围。
会议强调，要强化督查考核，将{topic}工作成效纳入年度绩效考评，对工作不力的严肃问责。
{person}强调，要坚持以人民为中心的发展思想，把{topic}作为为民办实事的重要内容抓紧抓实。
{person}要求，各县（市、区）要切实扛起主体责任，主要领导亲自抓、分管领导具体抓。
{person}指出，要紧盯时间节点，细化工作措施，确保{topic}工作在{month}月底前取得明显进展。
截至{month}月底，全市已累计完成{topic}项目{n3}个，完成投资{money}亿元，占年度计划的{pct}%。
据统计，今年以来，全市共开展{topic}检查{n3}次，发现并整改问题{n2}个，整改率达{pct}%。
据介绍，{county}共投入资金{money2}万元，惠及群众{n3}户，群众满意度达到{pct}%以上。
目前，全市已建成{topic}示范点{n}个，覆盖{county}、{county2}等{n}个县（市、区）。
今年全市计划完成{topic}任务{n3}项，截至目前已完成{n2}项，完成率为{pct}%。
{county}在{topic}工作中探索形成了“{phrase}”工作模式，相关经验做法在全市推广。
{county}{town}把{topic}与乡村振兴有机结合，走出了一条特色发展之路。
在{county}{town}，记者看到，{topic}相关项目正在有序推进，施工现场一派繁忙景象。
“以前办事要跑好几趟，现在一次就能办好。”{town}群众{person}说。
“通过这次培训，我对{topic}的政策有了更清楚的了解，回去后要把学到的知识用起来。”学员{person}说。
{dept}相关负责人介绍，下一步将继续完善{topic}工作机制，推动各项政策措施落地见效。
{dept}相关负责人表示，将以此次活动为契机，持续推进{topic}，不断提升群众获得感、幸福感、安全感。
下一步，{dept}将加强跟踪问效，定期通报工作进展，对发现的问题及时督促整改到位。
下一步，{city}将进一步加大{topic}政策支持力度，力争{year2}年实现{topic}工作全覆盖。
此次行动将持续至{month}月底，分为动员部署、集中整治、巩固提升三个阶段进行。
行动期间，各地将采取“四不两直”方式开展暗查暗访，对发现的问题建立台账，实行销号管理。
对检查中发现的违法违规行为，将依法依规严肃查处，并通过媒体予以公开曝光。
培训采取专题授课、现场教学、交流研讨相结合的方式，邀请{n}名专家学者授课。
来自全市各县（市、区）的业务骨干{n3}人参加培训。
活动现场，工作人员通过发放宣传资料、设置咨询台、播放宣传片等形式，向群众普及{topic}知识。
当天共发放宣传资料{n3}余份，现场解答群众咨询{n2}人次。
{county}坚持高位推动，成立由主要领导任组长的{topic}工作领导小组，定期研究解决重大问题。
{county}建立“周调度、月通报、季考评”工作机制，推动{topic}各项任务落实落细。
{dept}制定出台《{topic}工作考核办法》，将考核结果与项目资金安排挂钩。
据悉，{city}{topic}工作连续{n}年在全省考评中获得优秀等次。
{year}年，全市{topic}工作取得新突破，{n}项指标位居全省前列。
在项目建设方面，{county}共谋划{topic}项目{n2}个，总投资{money}亿元。
在资金保障方面，市级财政安排专项资金{money2}万元，重点支持{topic}基础设施建设。
在队伍建设方面，全市共配备{topic}专职工作人员{n3}名，组建志愿服务队伍{n2}支。
在制度建设方面，{dept}先后出台{n}项配套制度，为{topic}提供了有力的制度保障。
同时，{dept}还会同有关部门建立联合执法机制，开展联合检查{n2}次。
与此同时，{county}积极推进“互联网+{topic}”，依托信息平台实现全流程动态监管。
该项目总投资{money}亿元，建成后预计可带动就业{n3}人，年增加村集体收入{money2}万元。
会上，{county}、{county2}等地作了典型发言，交流了{topic}工作经验。
会上，与会人员观看了{topic}工作专题片，并对下一步工作进行了讨论。
会后，与会人员实地观摩了{county}{town}{topic}示范项目。
{md}，{dept}召开党组（扩大）会议，传达学习上级有关会议精神，研究{topic}工作。
{dept}要求，各地要严格落实值班值守制度，遇有重大情况及时报告，确保信息畅通。
各县（市、区）{dept_kind}分管领导、业务股室负责人参加会议。
市直有关部门负责同志，各县（市、区）政府分管领导参加会议。
{county}采取“党建+{topic}”模式，引导党员干部带头参与，充分发挥基层党组织战斗堡垒作用。
全市{topic}工作呈现出起步早、推进快、成效好的良好态势。
{county}把{topic}列入为民办实事项目，实行清单化管理、项目化推进。
通过开展{topic}，一批群众反映强烈的突出问题得到有效解决。
今年以来，全市累计受理群众{topic}相关诉求{n3}件，办结率{pct}%。
{dept}提醒广大群众，如发现相关问题，可拨打12345政务服务便民热线反映。
{city}将{topic}纳入“十四五”规划重点任务，统筹推进、分步实施。
按照计划，{topic}相关工作将于{year2}年{month}月前全面完成。
{county}组织{n}个工作组进村入户，逐户摸排登记，做到底数清、情况明。
各地要强化要素保障，优化审批服务，推动{topic}项目早开工、早建成、早见效。
要坚持系统观念，统筹发展和安全，做到{topic}与经济社会发展同部署、同推进。
要加大资金投入，积极争取上级项目和资金支持，拓宽多元化投入渠道。
要加强人才队伍建设，通过业务培训、岗位练兵等方式，提升基层干部{topic}业务能力。
要严格落实属地管理责任、部门监管责任和企业主体责任，层层传导压力。
要坚持标本兼治，既解决当前突出问题，又注重建立健全长效机制。
要及时回应群众关切，认真办理群众反映的问题，做到件件有着落、事事有回音。
""".strip().splitlines()

# Near-synonyms: every occurrence in a template is replaced by a member of its group at random,
# so that the fixed wording of the templates is not shared verbatim by unrelated articles.
SYNONYMS = [
    "加强 强化 加大 持续加强 进一步加强", "推进 推动 促进 加快推进 大力推进",
    "各地 各县（市、区） 各有关单位 各级各部门 各乡镇（街道）", "进一步 切实 持续 不断 着力",
    "确保 保证 力争 务求", "落实 落地 抓实 落细", "问题 短板 薄弱环节 难点堵点",
    "群众 居民 老百姓 人民群众 办事群众", "相关 有关", "开展 组织开展 深入开展 全面开展",
    "召开 组织召开 举行", "提升 提高 增强 改善", "机制 制度 体系 长效机制", "目前 当前 眼下 现阶段",
    "明显 显著 积极 良好", "扎实 稳步 有序 有力", "部署 安排 谋划", "重点 关键 核心 主要",
    "积极 主动 努力", "全面 全力 全方位", "任务 目标任务 工作任务", "成效 成果 实效 效果",
    "要求 强调 指出 提出", "督导 督查 检查 督促", "宣传 宣讲 宣传引导", "项目 工程 项目建设",
    "资金 经费 财政资金", "服务 保障 服务保障", "推广 复制推广 推行", "建立 健全 完善 建立健全",
    "今年以来 年初以来 入年以来 今年来", "截至 截止到 到", "会议 会上 本次会议", "组织 安排 统筹",
    "情况 进展 进展情况", "基层 一线 基层一线", "政策 政策措施 举措", "措施 举措 办法 手段",
    "单位 部门 单位部门", "及时 第一时间 迅速", "有效 切实 有力", "严格 从严 严肃",
    "依法 依法依规 依规",
    "深入 广泛", "形成 构建 打造", "实现 达到", "工作 工作 各项工作", "发展 发展 健康发展",
    "突出 显著", "全市 全市范围内 市域内", "带动 拉动 促进", "参加 出席 参与",
]
# Openings put before some sentences of a body.
CONNECTORS = ["", "", "", "", "同时，", "此外，", "另外，", "在此基础上，", "对此，", "为此，",
              "据了解，", "记者了解到，", "值得一提的是，", "具体来看，", "总体来看，",
              "从实际情况看，"]
_GROUP_OF = {word: group.split() for group in SYNONYMS for word in group.split()}
_SYNONYM = re.compile("|".join(sorted(_GROUP_OF, key=len, reverse=True)))

PHRASES = ["一线工作法", "网格化管理", "清单式推进", "一站式服务", "三级联动", "四个一批",
           "五个到位", "一村一策", "党建引领", "点单式服务", "马上就办", "闭环管理"]
# fmt: on


@dataclass
class Site:
    """A government site: host, agency name and the names reposts give it."""

    host: str
    name: str
    city: str
    short: str
    dept: str
    kind_label: str
    topics: list[str]
    counties: list[str]
    family: str
    code: str
    variants: list[str] = field(default_factory=list)

    @property
    def meta(self) -> dict[str, str]:
        """What the site's pages say about it in meta tags (SiteName, SiteDomain, SiteIDCode)."""
        return {"SiteName": self.name, "SiteDomain": self.host, "SiteIDCode": self.code}


@dataclass
class Generated:
    """One generated article, with the truth about what it copies."""

    id: int
    url: str
    site: str
    kind: str
    title: str
    published_at: datetime
    source_name: str | None
    original_title: str | None
    category: str | None
    declared_original_url: str | None
    paragraphs: list[str]
    original_url: str | None = None  # for a repost: its (first) original; None if not stored
    edits: list[str] = field(default_factory=list)
    site_meta: dict[str, str] = field(default_factory=dict)

    @property
    def body_text(self) -> str:
        """Paragraphs separated by a blank line, as extraction gives them."""
        return "\n\n".join(self.paragraphs)

    def row(self, fetched_at: datetime) -> dict[str, Any]:
        """The ``articles`` row values (for a bulk ORM insert)."""
        declared = self.declared_original_url
        return {
            "id": self.id,
            "url": self.url,
            "url_key": url_key(self.url),
            "site": self.site,
            "kind": self.kind,
            "title": self.title,
            "published_at": self.published_at,
            "source_name": self.source_name,
            "author": None,
            "editor": None,
            "original_title": self.original_title,
            "category": self.category,
            "declared_original_url": declared,
            "declared_original_key": url_key(declared) if declared else None,
            "body_text": self.body_text,
            "body_html": "".join(f"<p>{p}</p>" for p in self.paragraphs),
            "images": [],
            "attachments": [],
            "provenance": {},
            "fingerprint": content_hash(self.title, self.body_text),
            "fetched_at": fetched_at,
            "first_seen_at": fetched_at,
            "updated_at": fetched_at,
        }

    def url_row(self) -> dict[str, Any]:
        """The ``article_urls`` row of the article's own URL."""
        return {"url_key": url_key(self.url), "url": self.url, "article_id": self.id}


def sites(count: int = SITE_COUNT) -> list[Site]:
    """The government sites: each city's government first, then agencies round the cities."""
    pairs = [(city, agency) for agency in AGENCIES for city in CITIES][:count]
    result = []
    for number, (city, agency) in enumerate(pairs, start=1):
        name, short, label, code, family, counties = city
        host_label, full, abbreviation, topics = agency
        host = f"www.{label}.gov.cn" if host_label == "www" else f"{host_label}.{label}.gov.cn"
        agency_name = f"{name}{full}"
        variants = [agency_name, f"{short}{full}", f"市{full}", f"{agency_name}网站"]
        if abbreviation:
            variants += [f"{name}{abbreviation}", f"市{abbreviation}"]
        result.append(
            Site(
                host=host,
                name=agency_name,
                city=name,
                short=short,
                dept=f"市{full}",
                kind_label=full,
                topics=topics,
                counties=counties,
                family=family,
                code=f"{code}{number:04d}",
                variants=variants,
            )
        )
    return result


class Writer:
    """Builds titles and paragraphs from the templates with one random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        """A made-up name of two or three characters."""
        given = "".join(self.rng.sample(GIVEN, self.rng.choice((1, 2))))
        return self.rng.choice(SURNAMES) + given

    def slots(self, site: Site, topic: str, when: datetime) -> dict[str, str]:
        """Values for one article's template slots; numbers vary per article."""
        rng = self.rng
        day = when - timedelta(days=rng.randint(0, 3))
        later = day + timedelta(days=rng.randint(2, 20))
        counties = rng.sample(site.counties, 2)
        return {
            "city": site.city, "short": site.short, "dept": site.dept, "topic": topic,
            "county": counties[0], "county2": counties[1], "town": rng.choice(TOWNS),
            "md": f"{day.month}月{day.day}日", "md2": f"{later.month}月{later.day}日",
            "month": str(rng.randint(max(day.month, 2), 12)), "year": str(when.year),
            "year2": str(when.year + 1), "role": rng.choice(ROLES), "person": self.person(),
            "dept_kind": site.kind_label, "phrase": rng.choice(PHRASES),
        }  # fmt: skip

    def fill(self, template: str, values: dict[str, str], opening: bool = False) -> str:
        """A template with its slots filled and its wording varied; fresh numbers each time.

        ``opening`` may put a connective (同时，此外，…) before a body sentence.
        """
        rng = self.rng
        numbers = {
            "n": str(rng.randint(2, 12)), "n2": str(rng.randint(12, 300)),
            "n3": str(rng.randint(100, 9000)), "pct": str(rng.randint(60, 99)),
            "money": f"{rng.randint(1, 90)}.{rng.randint(1, 9)}",
            "money2": str(rng.randint(50, 9800)),
        }  # fmt: skip
        varied = _SYNONYM.sub(lambda match: rng.choice(_GROUP_OF[match.group()]), template)
        return (rng.choice(CONNECTORS) if opening else "") + varied.format(**values, **numbers)

    def article(self, site: Site, when: datetime) -> tuple[str, list[str]]:
        """A title and 400–3,000 characters of paragraphs for ``site`` at ``when``."""
        rng = self.rng
        topic = rng.choice(site.topics)
        values = self.slots(site, topic, when)
        title = self.fill(rng.choice(TITLES), values)
        target = int(400 * (7.5 ** rng.random()))  # 400 … 3,000, more short than long
        pool = rng.sample(SENTENCES, len(SENTENCES))
        paragraphs: list[str] = []
        size = 0
        while size < target and pool:
            count = min(rng.randint(2, 5), len(pool))
            text = "".join(self.fill(pool.pop(), values, opening=True) for _ in range(count))
            paragraphs.append(text)
            size += len(text)
        return title, paragraphs


HALF = str.maketrans({"，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "“": '"', "”": '"'})
RETITLES = [
    "{short}：{title}",
    "{title}！",
    "关注｜{title}",
    "{short}这项工作有新进展",
    "{title}（图）",
]


def repost_of(rng: random.Random, original: Generated, site: Site, when: datetime) -> Generated:
    """A portal's copy of ``original`` with one or two of the edits reposts make."""
    host, _, columns = rng.choice(PORTALS)
    title, paragraphs = original.title, list(original.paragraphs)
    original_title = None
    edits = rng.sample(["retitle", "trim", "drop", "punct", "same", "same"], rng.choice((1, 2)))
    if "retitle" in edits:
        original_title = title
        title = rng.choice(RETITLES).format(short=site.short, title=title)
    if "trim" in edits and len(paragraphs) > 3:
        paragraphs = paragraphs[: -rng.randint(1, min(3, len(paragraphs) - 2))]
    if "drop" in edits and len(paragraphs) > 3:
        del paragraphs[rng.randrange(1, len(paragraphs) - 1)]
    if "punct" in edits:
        paragraphs = [p.translate(HALF) for p in paragraphs]
        title = title.translate(HALF)
    declared = original.url if rng.random() < 0.3 else None
    return Generated(
        id=0, url=portal_url(rng, host, columns, when), site=host, kind="portal", title=title,
        published_at=when, source_name=rng.choice(site.variants), original_title=original_title,
        category=None, declared_original_url=declared, paragraphs=paragraphs,
        original_url=original.url, edits=edits,
    )  # fmt: skip


def portal_url(rng: random.Random, host: str, columns: list[str], when: datetime) -> str:
    """A portal article URL in the portal's own scheme."""
    column = rng.choice(columns)
    return f"http://{host}/{column}/{when:%Y%m%d}/{rng.randint(10**6, 10**7 - 1)}.html"


def gov_url(rng: random.Random, site: Site, when: datetime) -> str:
    """A government article URL: the Fujian CMS scheme or the TRS WCM one."""
    number = rng.randint(10**9, 10**10 - 1)
    if site.family == "trs":
        return f"http://{site.host}/xxgk/gzdt/{when:%Y%m}/t{when:%Y%m%d}_{number % 10**7}.htm"
    agency, city = site.host.split(".")[:2]
    folder = f"{city[:2]}s{agency}"
    return f"http://{site.host}/cms/html/{folder}/{when:%Y-%m-%d}/{number}.html"


def generate(count: int, seed: int = 0, repost_share: float = 0.1) -> Iterator[Generated]:
    """``count`` articles in publication order over two years; ids 1…count.

    About ``repost_share`` of them are portal reposts of an original published
    zero to three days before (a few with no stored original: an outlet's
    article or an original that was never crawled).
    """
    rng = random.Random(seed)
    writer = Writer(rng)
    all_sites = sites()
    recent: deque[tuple[Generated, Site]] = deque()
    step = DAYS * 86400 / max(count, 1)
    seen: set[str] = set()
    for number in range(1, count + 1):
        when = START + timedelta(seconds=(number - 1) * step + rng.uniform(0, step))
        when = when.replace(microsecond=0)
        while recent and recent[0][0].published_at < when - timedelta(days=3):
            recent.popleft()
        if recent and rng.random() < repost_share:
            if rng.random() < 0.08:
                article = unstored_repost(rng, writer, all_sites, when)
            else:
                original, site = rng.choice(recent)
                article = repost_of(rng, original, site, when)
        else:
            site = rng.choice(all_sites)
            title, paragraphs = writer.article(site, when)
            article = Generated(
                id=0, url=gov_url(rng, site, when), site=site.host, kind="gov", title=title,
                published_at=when, source_name=site.name, original_title=None, category="工作动态",
                declared_original_url=None, paragraphs=paragraphs, site_meta=site.meta,
            )  # fmt: skip
            recent.append((article, site))
        while article.url in seen:
            article.url = article.url.replace(".htm", "1.htm")
        seen.add(article.url)
        article.id = number
        yield article


def unstored_repost(
    rng: random.Random, writer: Writer, all_sites: list[Site], when: datetime
) -> Generated:
    """A repost whose original is not stored: an outlet's article or an uncrawled agency page."""
    site = rng.choice(all_sites)
    title, paragraphs = writer.article(site, when)
    source = rng.choice([*OUTLETS, site.name])
    host, _, columns = rng.choice(PORTALS)
    return Generated(
        id=0, url=portal_url(rng, host, columns, when), site=host, kind="portal", title=title,
        published_at=when, source_name=source, original_title=None, category=None,
        declared_original_url=None, paragraphs=paragraphs, edits=["unstored"],
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Print a few generated articles."""
    parser = argparse.ArgumentParser(description="Print generated articles.")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--total", type=int, default=1000, help="size of the generated set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shown = 0
    for article in generate(args.total, args.seed):
        if shown < args.count or (article.kind == "portal" and shown < 2 * args.count):
            print(f"{article.url}  [{article.kind}] {article.published_at:%Y-%m-%d %H:%M}")
            print(f"  {article.title}  来源:{article.source_name}  原标题:{article.original_title}")
            print(f"  edits {article.edits}  original {article.original_url}")
            print(f"  {len(article.body_text)} chars: {article.body_text[:120]}…\n")
            shown += 1


if __name__ == "__main__":
    main()

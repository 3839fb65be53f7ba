// The console's words in Chinese and English; `t(key)` in the agent's language.

const WORDS = {
  zh: {
    title: "客服工作台", skip: "跳到主要内容", language: "English", languageLabel: "Switch to English",
    username: "用户名", password: "密码", login: "登录", loginFailed: "用户名或密码错误",
    logout: "退出", workspace: "工作台", supervisor: "主管视图", canned: "快捷回复",
    available: "接待中", away: "暂停接待", online: "实时连接", offline: "连接中断，正在重连…",
    queue: "排队中", mine: "我的会话", noQueue: "没有排队的客户", noMine: "您还没有接待中的会话",
    claim: "接入", claimTaken: "这个会话已被其他客服接入", waited: "已等待", urgent: "紧急", openChat: "打开会话",
    choose: "从左侧选择一个会话", transcript: "对话记录", reply: "回复客户", send: "发送",
    insertCanned: "插入快捷回复", endHandoff: "结束人工服务", ended: "已结束，会话交还机器人",
    notHolding: "您没有接入这个会话", customer: "客户", profile: "客户资料", name: "姓名",
    phone: "电话", email: "邮箱", address: "地址", channels: "渠道", maskedNote: "按您的角色已隐藏部分信息",
    tickets: "工单", contacts: "历史会话", ticket: "当前工单", noTicket: "此会话还没有工单",
    createTicket: "创建工单", kind: "类型", description: "问题描述", create: "创建",
    status: "状态", priority: "优先级", resolveBy: "解决期限", nextStep: "下一步",
    note: "备注（客户可见）", resolution: "处理结果（会发送给客户）", assignMe: "分配给我",
    link: "关联工单", ref: "工单号", reason: "转人工原因", summary: "机器人收集的信息",
    lastMessage: "客户最后说", sent: "已发送", pending: "等待发送", delivered: "已送达",
    liveConversations: "进行中的会话", agents: "客服人员", breaches: "已超时工单",
    aboutToBreach: "即将超时（4 小时内）", today: "今日数据", reassign: "转给", none: "无",
    handedOff: "转人工", claimed: "已接入", abandoned: "未接入", meanWait: "平均等待（分钟）",
    resolved: "已解决", csat: "满意度", ratings: "评价数", created: "新建工单",
    volume7: "近 7 天工单量", csatChart: "评分分布", handoffChart: "今日转人工",
    refused: "您的角色无权查看此页面。", title_: "标题", textZh: "中文", textEn: "English",
    save: "保存", remove: "删除", add: "新增快捷回复", onlySupervisors: "只有主管可以修改快捷回复。",
    agent: "客服", mode: "状态", since: "开始", role: "角色", team: "组", yes: "是", no: "否",
    forbidden: "不允许", notFound: "找不到", conflict: "当前状态不允许", invalid: "输入有误",
    pages: "页面", offered: "提供的选项",
    qa: "质检", drawSample: "抽取质检样本", closedFrom: "关闭日期从", closedTo: "关闭日期到",
    allKinds: "全部类型", sharePercent: "抽样比例（%，默认 10）", sampleCount: "或抽取数量",
    perKind: "按类型分别抽取", draw: "抽样", drawn: "已抽取", samples: "质检样本", period: "期间",
    sampled: "抽中", scored: "已评分", failed: "不合格", seed: "随机种子", sample: "样本",
    points0: "未做到", points1: "部分做到", points2: "做到", findings: "评审意见",
    score: "提交评分", handler: "处理人", reviewer: "评审人", qa_pending: "待评分",
    qa_passed: "合格", qa_failed: "不合格", nothingToSample: "该期间没有可抽取的已关闭工单",
    chooseSample: "从左侧选择一个样本", corrected: "整改说明", closeRectification: "完成整改",
    assignee: "负责人", due: "期限", overdue: "已逾期", missed: "未达标项",
    openRectifications: "待整改", myRectifications: "我的整改任务", qaFigures: "近 30 天质检",
    passRate: "合格率", byCriterion: "按评分项", meanPoints: "平均分（0–2）", byAgent: "按处理人",
    from: { customer: "客户", bot: "机器人", agent: "客服", system: "系统" },
  },
  en: {
    title: "Agent console", skip: "Skip to the main content", language: "中文", languageLabel: "切换到中文",
    username: "Username", password: "Password", login: "Log in", loginFailed: "Wrong username or password",
    logout: "Log out", workspace: "Workspace", supervisor: "Supervisor", canned: "Canned replies",
    available: "Available", away: "Away", online: "Live", offline: "Connection lost, reconnecting…",
    queue: "Queue", mine: "My conversations", noQueue: "Nobody is waiting", noMine: "You hold no conversation",
    claim: "Claim", claimTaken: "Another agent took this conversation", waited: "waiting", urgent: "urgent", openChat: "Open",
    choose: "Choose a conversation on the left", transcript: "Transcript", reply: "Reply to the customer",
    send: "Send", insertCanned: "Insert a canned reply", endHandoff: "End the handoff",
    ended: "Ended: the bot has the conversation again", notHolding: "You do not hold this conversation",
    customer: "Customer", profile: "Profile", name: "Name", phone: "Phone", email: "E-mail",
    address: "Address", channels: "Channels", maskedNote: "Some details are masked for your role",
    tickets: "Tickets", contacts: "Previous conversations", ticket: "Ticket",
    noTicket: "No ticket for this conversation yet", createTicket: "Open a ticket", kind: "Kind",
    description: "Description", create: "Create", status: "Status", priority: "Priority",
    resolveBy: "Resolve by", nextStep: "Next step", note: "Note (the customer sees it)",
    resolution: "Resolution (sent to the customer)", assignMe: "Assign to me", link: "Link a ticket",
    ref: "Reference", reason: "Handoff reason", summary: "What the bot collected",
    lastMessage: "Last message", sent: "sent", pending: "waiting to be sent", delivered: "delivered",
    liveConversations: "Live conversations", agents: "Agents", breaches: "SLA breaches",
    aboutToBreach: "About to breach (within 4 h)", today: "Today", reassign: "Reassign to",
    none: "none", handedOff: "Handoffs", claimed: "Claimed", abandoned: "Abandoned",
    meanWait: "Mean wait (min)", resolved: "Resolved", csat: "CSAT", ratings: "Ratings",
    created: "New tickets", volume7: "Tickets, last 7 days", csatChart: "Ratings",
    handoffChart: "Handoffs today", refused: "Your role may not see this page.", title_: "Title",
    textZh: "中文", textEn: "English", save: "Save", remove: "Delete", add: "Add a canned reply",
    onlySupervisors: "Only supervisors may change canned replies.", agent: "Agent", mode: "Mode",
    since: "Since", role: "Role", team: "Team", yes: "yes", no: "no",
    forbidden: "Not allowed", notFound: "Not found", conflict: "Not possible now",
    invalid: "Check the input", pages: "Pages", offered: "options offered",
    qa: "QA", drawSample: "Draw a QA sample", closedFrom: "Closed from", closedTo: "Closed to",
    allKinds: "All kinds", sharePercent: "Share (%, default 10)", sampleCount: "or a count",
    perKind: "Per kind", draw: "Draw", drawn: "Drawn", samples: "QA samples", period: "Period",
    sampled: "Sampled", scored: "Scored", failed: "Failed", seed: "Seed", sample: "Sample",
    points0: "not met", points1: "partly met", points2: "met", findings: "Findings",
    score: "Submit the score", handler: "Handler", reviewer: "Reviewer", qa_pending: "Not scored",
    qa_passed: "Passed", qa_failed: "Failed", nothingToSample: "No closed tickets to sample in this period",
    chooseSample: "Choose a sample on the left", corrected: "What was corrected",
    closeRectification: "Rectified", assignee: "Assignee", due: "due", overdue: "Overdue",
    missed: "Missed", openRectifications: "Open rectifications", myRectifications: "My rectifications",
    qaFigures: "QA, last 30 days", passRate: "Pass rate", byCriterion: "By criterion",
    meanPoints: "Mean points (0–2)", byAgent: "By handler",
    from: { customer: "Customer", bot: "Bot", agent: "Agent", system: "System" },
  },
};

const NAMES = {
  kind: {
    inquiry: ["咨询", "enquiry"], complaint: ["投诉", "complaint"], repair: ["维修", "repair"],
    installation: ["安装", "installation"], maintenance: ["保养", "maintenance"],
    replacement: ["换货", "replacement"], recall: ["召回", "recall"],
  },
  status: {
    received: ["已收到", "received"], acknowledged: ["已受理", "acknowledged"],
    investigating: ["调查处理中", "investigating"], scheduled: ["已预约", "scheduled"],
    in_progress: ["服务中", "in progress"], resolved: ["已解决", "resolved"],
    closed: ["已关闭", "closed"], cancelled: ["已取消", "cancelled"],
  },
  action: {
    acknowledge: ["受理", "acknowledge"], investigate: ["开始调查", "investigate"],
    schedule: ["预约上门", "schedule"], start: ["开始服务", "start"], resolve: ["解决", "resolve"],
    close: ["关闭", "close"], reopen: ["重新打开", "reopen"], escalate: ["升级", "escalate"],
    pause: ["等待客户", "pause"], resume: ["继续", "resume"], cancel: ["取消", "cancel"],
  },
  mode: { bot: ["机器人", "bot"], waiting: ["排队中", "waiting"], agent: ["人工", "agent"] },
  reason: {
    customer_request: ["客户要求转人工", "customer asked for a person"],
    misunderstood: ["机器人两次没听懂", "the bot did not understand twice"],
    low_rating: ["低分评价", "low rating"], safety: ["安全隐患", "safety hazard"],
    urgent_complaint: ["紧急投诉", "urgent complaint"],
    assistant_unavailable: ["智能客服故障", "the assistant was down"],
    service_interrupted: ["系统中断期间的消息", "message taken during an outage"],
  },
  channel: { web: ["网页", "web"], telegram: ["Telegram", "Telegram"], wecom: ["企业微信", "WeCom"] },
  role: { agent: ["客服", "agent"], supervisor: ["主管", "supervisor"], admin: ["管理员", "admin"] },
  target: {
    acknowledge: ["受理时限", "acknowledge"], first_response: ["首次响应时限", "first response"],
    resolve: ["解决时限", "resolve"],
  },
};

let current =
  localStorage.getItem("console-lang") ||
  ((navigator.language || "zh").toLowerCase().startsWith("en") ? "en" : "zh");

export function lang() {
  return current;
}

export function setLang(value) {
  current = value === "en" ? "en" : "zh";
  localStorage.setItem("console-lang", current);
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
}

export function t(key) {
  return WORDS[current][key] ?? key;
}

/** The name of a code (kind, status, action, mode, reason, channel, role, SLA target) in our
 *  language. */
export function named(table, code) {
  const pair = NAMES[table]?.[code];
  return pair ? pair[current === "zh" ? 0 : 1] : code || "—";
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(current === "zh" ? "zh-CN" : "en-GB", {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** "4:07" or "1:04:07" since `iso` (it ticks every second). */
export function waitedSince(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  const [h, m, s] = [Math.floor(seconds / 3600), Math.floor(seconds / 60) % 60, seconds % 60];
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

/** What the API refused, in our words, with its own reason after them. */
export function refusal(error) {
  const words = { 403: t("forbidden"), 404: t("notFound"), 409: t("conflict"), 422: t("invalid") };
  const lead = words[error.status];
  return lead ? `${lead}: ${error.message}` : error.message;
}

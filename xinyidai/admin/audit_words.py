"""The audit log's action codes in words, for the operator's page, its filter and its export."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

AUDIT_ACTIONS = {
    "view_credit_detail": _l("查看企业信用明细"), "export": _l("导出数据"),
    "login": _l("登录"), "login_failed": _l("登录失败"), "password_changed": _l("修改密码"),
    "password_change_failed": _l("修改密码失败"), "password_reset": _l("重置密码（一次性密码）"),
    "api_auth_failed": _l("接口认证失败"), "api_token_created": _l("创建接口令牌"), "api_token_revoked": _l("吊销接口令牌"),
    "user_created": _l("创建用户"), "user_deactivated": _l("停用用户"), "user_role_changed": _l("变更用户角色"),
    "staff_invited": _l("邀请员工"), "staff_deactivated": _l("停用员工"),
    "bank_onboarded": _l("接入银行"), "bank_deactivated": _l("停用银行"), "bank_activated": _l("启用银行"),
    "enterprise_registered": _l("企业注册"), "registration_refused": _l("注册被拒绝"),
    "authorization_granted": _l("授权银行查看数据"), "authorization_revoked": _l("撤销授权"),
    "authorization_requested": _l("银行请求授权"), "authorization_request_answered": _l("企业答复授权请求"),
    "need_published": _l("发布融资需求"), "need_updated": _l("修改融资需求"), "need_withdrawn": _l("撤回融资需求"),
    "need_contacts_set": _l("设置联系银行"), "need_released_after_sla": _l("超时释放需求"),
    "enterprise_applied": _l("企业申请产品"), "application_reassigned": _l("转交申请"), "message_sent": _l("发送消息"),
    "product_created": _l("新建产品"), "product_updated": _l("修改产品"),
    "loan_status_reported": _l("报送贷款状态"), "outcome_upload": _l("批量上传结果"),
    "credit_commitment_made": _l("作出信用承诺"), "credit_commitment_withdrawn": _l("撤回信用承诺"),
    "self_report_added": _l("企业自愿填报"),
    "credit_report_issued": _l("出具信用报告"), "credit_report_revoked": _l("作废信用报告"),
    "credit_report_verified": _l("核验信用报告"), "credit_report_attached": _l("附上信用报告"),
    "credit_repair_applied": _l("申请信用修复"), "credit_repair_decided": _l("信用修复决定"),
    "credit_repair_delivery": _l("信用修复数据交付"), "credit_repair_evidence_viewed": _l("查看修复材料"),
    "credit_repair_followed": _l("信用修复跟进"),
    "delivery_uploaded": _l("上传数据交付"), "delivery_refused": _l("数据交付被拒绝"),
    "model_promoted": _l("启用评分模型"), "model_rolled_back": _l("回退评分模型"), "monitoring_run": _l("运行贷后监测"),
    "alert_acknowledged": _l("确认预警"),
    "whitelist_threshold_set": _l("设置白名单门槛"), "whitelist_drafted": _l("生成白名单草稿"),
    "whitelist_override": _l("人工调整白名单"), "whitelist_confirmed": _l("确认白名单"),
    "whitelist_published": _l("发布白名单"),
}


def action_words(action: str) -> str:
    """The action in the page's language; a code newer than this list is shown as it is, never hidden."""
    return str(AUDIT_ACTIONS[action]) if action in AUDIT_ACTIONS else action

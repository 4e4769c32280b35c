"""The API of care plans. Templates (no patient data: any clinician reads them, no step-up): list, write
a draft, change it, submit it, and for a department head approve, return or retire it. Plans (the
record: the step-up window): a patient's plans, one plan, make one (from an approved template or from
scratch), change it, move its status, add goals and their progress, activities and their status, and
its care team. A patient reads their own active plans (`me/care-plans/`). Views parse, call one
selector or service, and serialize; the rules live in `clinical.care_plans`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from phb.clinical import care_plans
from phb.clinical.api import ClinicalApi
from phb.clinical.models import CarePlan, CarePlanActivity, CarePlanGoal, CarePlanMember, CarePlanTemplate, GoalProgress
from phb.clinical.symptoms_api import MyRecordApi
from phb.kernel.api import PhbApiView

VIEW = "clinical.record.view"


def _valid(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# --- templates --------------------------------------------------------------------------------------


class TemplateGoalSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=care_plans.GOAL_MAX)
    measure = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)
    target = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)
    due_in_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=care_plans.DUE_IN_DAYS_MAX
    )


class ActivitySerializer(serializers.Serializer):
    kind = serializers.CharField(max_length=16, help_text="monitoring, medication, appointment, investigation, ...")
    description = serializers.CharField(max_length=care_plans.GOAL_MAX)
    schedule = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)


class TemplateInput(serializers.Serializer):
    name = serializers.CharField(max_length=care_plans.NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.TEXT_MAX)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    goals = TemplateGoalSerializer(many=True, required=False, max_length=care_plans.GOALS_MAX)
    activities = ActivitySerializer(many=True, required=False, max_length=care_plans.ACTIVITIES_MAX)
    team_roles = serializers.ListField(
        child=serializers.CharField(max_length=16), required=False, max_length=care_plans.TEAM_MAX
    )


class TemplateOutput(serializers.ModelSerializer):
    status = serializers.CharField(help_text="draft, pending_approval, approved or retired")
    goals = TemplateGoalSerializer(many=True)
    activities = ActivitySerializer(many=True)
    team_roles = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = CarePlanTemplate
        fields = [
            "id",
            "code",
            "name",
            "description",
            "department_id",
            "goals",
            "activities",
            "team_roles",
            "status",
            "submitted_at",
            "approved_by_id",
            "approved_at",
            "retired_at",
            "review_note",
        ]


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(max_length=care_plans.TEXT_MAX)


class TemplatesApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="draft, pending_approval, approved or retired")],
        responses=TemplateOutput(many=True),
        summary="The organization's care plan templates",
    )
    def get(self, request: Request) -> Response:
        found = care_plans.care_plan_template_list(ctx=self.ctx, status=request.query_params.get("status", ""))
        return Response(TemplateOutput(found, many=True).data)

    @extend_schema(request=TemplateInput, responses={201: TemplateOutput}, summary="Write a draft care plan template")
    def post(self, request: Request) -> Response:
        data = _valid(TemplateInput, request.data)
        template = care_plans.care_plan_template_create(ctx=self.ctx, **data)
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class TemplateApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(responses=TemplateOutput, summary="One care plan template")
    def get(self, request: Request, template_id: str) -> Response:
        template = care_plans.care_plan_template_get(ctx=self.ctx, template_id=self.parse_id(template_id))
        return Response(TemplateOutput(template).data)

    @extend_schema(
        request=TemplateInput,
        responses={200: TemplateOutput, 409: OpenApiResponse(description="TEMPLATE_NOT_DRAFT")},
        summary="Change a draft care plan template",
    )
    def patch(self, request: Request, template_id: str) -> Response:
        data = _valid(TemplateInput, request.data, partial=True)
        template = care_plans.care_plan_template_update(ctx=self.ctx, template_id=self.parse_id(template_id), **data)
        return Response(TemplateOutput(template).data)


class TemplateSubmitApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(request=None, responses=TemplateOutput, summary="Submit a draft template for approval")
    def post(self, request: Request, template_id: str) -> Response:
        template = care_plans.care_plan_template_submit(ctx=self.ctx, template_id=self.parse_id(template_id))
        return Response(TemplateOutput(template).data)


_HEAD_ONLY = OpenApiResponse(description="DEPARTMENT_HEAD_REQUIRED: only a department head decides")


class TemplateApproveApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(
        request=None,
        responses={200: TemplateOutput, 403: _HEAD_ONLY},
        summary="Approve a template pending approval (a department head)",
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = care_plans.care_plan_template_approve(ctx=self.ctx, template_id=self.parse_id(template_id))
        return Response(TemplateOutput(template).data)


class TemplateReturnApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(
        request=ReasonInput,
        responses={200: TemplateOutput, 403: _HEAD_ONLY},
        summary="Return a template pending approval to draft, saying why (a department head)",
    )
    def post(self, request: Request, template_id: str) -> Response:
        data = _valid(ReasonInput, request.data)
        template = care_plans.care_plan_template_return(
            ctx=self.ctx, template_id=self.parse_id(template_id), reason=data["reason"]
        )
        return Response(TemplateOutput(template).data)


class TemplateRetireApi(PhbApiView):
    required_permission = VIEW

    @extend_schema(
        request=None,
        responses={200: TemplateOutput, 403: _HEAD_ONLY},
        summary="Retire an approved template (a department head)",
    )
    def post(self, request: Request, template_id: str) -> Response:
        template = care_plans.care_plan_template_retire(ctx=self.ctx, template_id=self.parse_id(template_id))
        return Response(TemplateOutput(template).data)


# --- plans ------------------------------------------------------------------------------------------


class ProgressOutput(serializers.ModelSerializer):
    achievement_status = serializers.CharField()

    class Meta:
        model = GoalProgress
        fields = ["id", "recorded_at", "recorded_by_id", "achievement_status", "value", "note"]


class GoalOutput(serializers.ModelSerializer):
    achievement_status = serializers.CharField(help_text="HL7 FHIR goal-achievement: in_progress, achieved, ...")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = CarePlanGoal
        fields = ["id", "description", "measure", "target", "due_on", "achievement_status", "progress"]

    def get_progress(self, goal: CarePlanGoal) -> list[dict[str, Any]]:
        return list(ProgressOutput(getattr(goal, "progress_list", []), many=True).data)


class ActivityOutput(serializers.ModelSerializer):
    kind = serializers.CharField()
    status = serializers.CharField(help_text="not_started, scheduled, in_progress, on_hold, completed, cancelled")

    class Meta:
        model = CarePlanActivity
        fields = ["id", "kind", "description", "schedule", "status"]


class MemberOutput(serializers.ModelSerializer):
    role = serializers.CharField(help_text="lead, doctor, nurse, midwife, pharmacist, dietitian, ...")
    name = serializers.CharField(source="user.full_name")

    class Meta:
        model = CarePlanMember
        fields = ["id", "user_id", "name", "role"]


class CarePlanOutput(serializers.ModelSerializer):
    status = serializers.CharField(help_text="draft, active, on_hold, completed or revoked")
    goals = serializers.SerializerMethodField()
    activities = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()

    class Meta:
        model = CarePlan
        fields = [
            "id",
            "patient_id",
            "template_id",
            "title",
            "description",
            "status",
            "status_reason",
            "period_start",
            "period_end",
            "department_id",
            "created_by_id",
            "activated_at",
            "ended_at",
            "goals",
            "activities",
            "team",
        ]

    def get_goals(self, plan: CarePlan) -> list[dict[str, Any]]:
        return list(GoalOutput(getattr(plan, "goal_list", []), many=True).data)

    def get_activities(self, plan: CarePlan) -> list[dict[str, Any]]:
        return list(ActivityOutput(getattr(plan, "activity_list", []), many=True).data)

    def get_team(self, plan: CarePlan) -> list[dict[str, Any]]:
        return list(MemberOutput(getattr(plan, "team_list", []), many=True).data)


class PlanGoalInput(serializers.Serializer):
    description = serializers.CharField(max_length=care_plans.GOAL_MAX)
    measure = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)
    target = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)
    due_on = serializers.DateField(required=False, allow_null=True)


class MemberInput(serializers.Serializer):
    user_id = serializers.UUIDField()
    role = serializers.CharField(max_length=16, help_text="lead, doctor, nurse, midwife, pharmacist, ...")


class CarePlanInput(serializers.Serializer):
    title = serializers.CharField(
        required=False, allow_blank=True, max_length=care_plans.TITLE_MAX, help_text="Default: the template's name."
    )
    template_id = serializers.UUIDField(required=False, allow_null=True, help_text="An approved template.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.TEXT_MAX)
    period_start = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    period_end = serializers.DateField(required=False, allow_null=True)
    department_id = serializers.UUIDField(required=False, allow_null=True)
    goals = PlanGoalInput(many=True, required=False, max_length=care_plans.GOALS_MAX)
    activities = ActivitySerializer(many=True, required=False, max_length=care_plans.ACTIVITIES_MAX)
    team = MemberInput(many=True, required=False, max_length=care_plans.TEAM_MAX)
    activate = serializers.BooleanField(default=False, help_text="Active at once (it needs a goal).")


class CarePlanChangeInput(serializers.Serializer):
    title = serializers.CharField(required=False, max_length=care_plans.TITLE_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.TEXT_MAX)
    period_start = serializers.DateField(required=False)
    period_end = serializers.DateField(required=False, allow_null=True)


class StatusInput(serializers.Serializer):
    status = serializers.CharField(max_length=16)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.TEXT_MAX)


class ProgressInput(serializers.Serializer):
    achievement_status = serializers.CharField(max_length=16, help_text="in_progress, improving, achieved, ...")
    value = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.SHORT_MAX)
    note = serializers.CharField(required=False, allow_blank=True, max_length=care_plans.TEXT_MAX)


class ActivityStatusInput(serializers.Serializer):
    status = serializers.CharField(max_length=16)


_CLOSED = OpenApiResponse(description="CARE_PLAN_CLOSED (completed or revoked: read-only), ILLEGAL_TRANSITION")


def _plan(api: PhbApiView, plan_id: Any) -> Response:
    return Response(CarePlanOutput(care_plans.care_plan_get(ctx=api.ctx, plan_id=plan_id)).data)


class PatientCarePlansApi(ClinicalApi):
    required_permission = {"GET": VIEW, "POST": VIEW}

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="Only plans of this status.")],
        responses=CarePlanOutput(many=True),
        summary="A patient's care plans here, open ones first (audited)",
    )
    def get(self, request: Request, patient_id: str) -> Response:
        found = care_plans.care_plan_list(
            ctx=self.ctx, patient_id=self.parse_id(patient_id), status=request.query_params.get("status", "")
        )
        return Response(CarePlanOutput(found, many=True).data)

    @extend_schema(
        request=CarePlanInput,
        responses={201: CarePlanOutput, 409: OpenApiResponse(description="TEMPLATE_NOT_APPROVED")},
        summary="Make a care plan, from an approved template or from scratch",
    )
    def post(self, request: Request, patient_id: str) -> Response:
        data = _valid(CarePlanInput, request.data)
        plan = care_plans.care_plan_create(ctx=self.ctx, patient_id=self.parse_id(patient_id), **data)
        response = _plan(self, plan.id)
        response.status_code = status.HTTP_201_CREATED
        return response


class CarePlanApi(ClinicalApi):
    @extend_schema(responses=CarePlanOutput, summary="One care plan (audited)")
    def get(self, request: Request, plan_id: str) -> Response:
        return _plan(self, self.parse_id(plan_id))

    @extend_schema(
        request=CarePlanChangeInput, responses={200: CarePlanOutput, 409: _CLOSED}, summary="Change an open plan"
    )
    def patch(self, request: Request, plan_id: str) -> Response:
        data = _valid(CarePlanChangeInput, request.data, partial=True)
        plan = care_plans.care_plan_update(ctx=self.ctx, plan_id=self.parse_id(plan_id), **data)
        return _plan(self, plan.id)


class CarePlanStatusApi(ClinicalApi):
    @extend_schema(
        request=StatusInput,
        responses={200: CarePlanOutput, 409: _CLOSED},
        summary="Move a plan: active, on_hold, completed or revoked (say why to hold or revoke)",
    )
    def post(self, request: Request, plan_id: str) -> Response:
        data = _valid(StatusInput, request.data)
        plan = care_plans.care_plan_status_set(ctx=self.ctx, plan_id=self.parse_id(plan_id), **data)
        return _plan(self, plan.id)


class CarePlanGoalsApi(ClinicalApi):
    @extend_schema(
        request=PlanGoalInput, responses={201: CarePlanOutput, 409: _CLOSED}, summary="Add a goal to an open plan"
    )
    def post(self, request: Request, plan_id: str) -> Response:
        data = _valid(PlanGoalInput, request.data)
        goal = care_plans.care_plan_goal_add(ctx=self.ctx, plan_id=self.parse_id(plan_id), **data)
        response = _plan(self, goal.plan_id)
        response.status_code = status.HTTP_201_CREATED
        return response


class GoalProgressApi(ClinicalApi):
    @extend_schema(
        request=ProgressInput,
        responses={201: ProgressOutput, 409: OpenApiResponse(description="CARE_PLAN_CLOSED, CARE_PLAN_NOT_ACTIVE")},
        summary="Record progress on a goal (appended; the earlier entries are kept)",
    )
    def post(self, request: Request, goal_id: str) -> Response:
        data = _valid(ProgressInput, request.data)
        entry = care_plans.care_plan_goal_progress_add(ctx=self.ctx, goal_id=self.parse_id(goal_id), **data)
        return Response(ProgressOutput(entry).data, status=status.HTTP_201_CREATED)


class CarePlanActivitiesApi(ClinicalApi):
    @extend_schema(
        request=ActivitySerializer,
        responses={201: ActivityOutput, 409: _CLOSED},
        summary="Add an activity to an open plan",
    )
    def post(self, request: Request, plan_id: str) -> Response:
        data = _valid(ActivitySerializer, request.data)
        activity = care_plans.care_plan_activity_add(ctx=self.ctx, plan_id=self.parse_id(plan_id), **data)
        return Response(ActivityOutput(activity).data, status=status.HTTP_201_CREATED)


class ActivityStatusApi(ClinicalApi):
    @extend_schema(
        request=ActivityStatusInput, responses={200: ActivityOutput, 409: _CLOSED}, summary="An activity's status"
    )
    def post(self, request: Request, activity_id: str) -> Response:
        data = _valid(ActivityStatusInput, request.data)
        activity = care_plans.care_plan_activity_status_set(
            ctx=self.ctx, activity_id=self.parse_id(activity_id), status=data["status"]
        )
        return Response(ActivityOutput(activity).data)


class CarePlanTeamApi(ClinicalApi):
    @extend_schema(
        request=MemberInput,
        responses={201: CarePlanOutput, 409: OpenApiResponse(description="MEMBER_PRESENT, CARE_PLAN_CLOSED")},
        summary="Add a clinician of the organization to the care team",
    )
    def post(self, request: Request, plan_id: str) -> Response:
        data = _valid(MemberInput, request.data)
        member = care_plans.care_plan_member_add(ctx=self.ctx, plan_id=self.parse_id(plan_id), **data)
        response = _plan(self, member.plan_id)
        response.status_code = status.HTTP_201_CREATED
        return response


class CarePlanMemberApi(ClinicalApi):
    @extend_schema(
        request=None,
        responses={204: None, 409: OpenApiResponse(description="LEAD_REQUIRED, CARE_PLAN_CLOSED")},
        summary="Take a member off the care team (the team keeps a lead)",
    )
    def delete(self, request: Request, plan_id: str, member_id: str) -> Response:
        care_plans.care_plan_member_remove(
            ctx=self.ctx, plan_id=self.parse_id(plan_id), member_id=self.parse_id(member_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyCarePlansApi(MyRecordApi):
    @extend_schema(responses=CarePlanOutput(many=True), summary="My active care plans at every hospital (read-only)")
    def get(self, request: Request) -> Response:
        return Response(CarePlanOutput(care_plans.my_care_plans(ctx=self.ctx), many=True).data)

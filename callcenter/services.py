"""Composition root: builds every long-lived component once and tears it down in order.

The FastAPI lifespan and the CLI both use `running_services`; nothing is built at import.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.agents.service import AgentService
from callcenter.calls.models import Call
from callcenter.calls.service import CallService
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.customers.crm import CrmLookup
from callcenter.customers.phone import normalize_phone
from callcenter.customers.service import CustomerService
from callcenter.db import Database
from callcenter.events import EventBus, create_bus
from callcenter.monitoring.announcements import Announcements
from callcenter.monitoring.wallboard import Wallboard
from callcenter.reports.service import ReportService
from callcenter.reports.writer import ReportWriter
from callcenter.routing.config import load_routing
from callcenter.routing.service import RoutingService
from callcenter.tasks import TaskSupervisor
from callcenter.tickets.sla_scheduler import SlaScheduler

if TYPE_CHECKING:
    from callcenter.auth.service import AuthService
    from callcenter.calls.agent_legs import AgentLegs
    from callcenter.calls.stasis import CallController
    from callcenter.chat.service import ChatService
    from callcenter.ivr.registry import FlowRegistry
    from callcenter.mail.desk import MailDesk
    from callcenter.pbx.ami import AmiClient
    from callcenter.pbx.ari import AriClient
    from callcenter.sensitive.service import SensitiveService
    from callcenter.softphone.lines import Softphones
    from callcenter.tickets.automation import TicketAutomation
    from callcenter.tickets.service import TicketService
    from callcenter.tickets.voicemail import VoicemailTickets
    from callcenter.webhooks.dispatcher import WebhookDispatcher
    from callcenter.webhooks.service import WebhookService

log = logging.getLogger(__name__)

AMI_EVENT_CLASSES = "system,agent"
# The ARI events the controller and running flows act on; Asterisk drops the rest.
CONTROLLER_EVENTS = (
    "StasisStart",
    "StasisEnd",
    "ChannelDtmfReceived",
    "ChannelHangupRequest",
    "ChannelDestroyed",
    "PlaybackFinished",
    "RecordingFinished",
    "RecordingFailed",
    "ChannelTalkingFinished",
    "ApplicationReplaced",
)


@dataclass
class Telephony:
    """The controller's links to its Asterisk and what runs on them."""

    ari: AriClient
    ami: AmiClient
    supervisor: TaskSupervisor
    controller: CallController
    flows: FlowRegistry
    softphones: Softphones
    legs: AgentLegs  # agents' and supervisors' phones in conversations


@dataclass
class Services:
    """Everything a request handler or a command may need, injected, never global."""

    settings: Settings
    db: Database
    bus: EventBus
    clock: Clock
    auth: AuthService
    calls: CallService
    agents: AgentService
    routing: RoutingService
    wallboard: Wallboard
    announcements: Announcements
    reports: ReportService
    customers: CustomerService
    crm: CrmLookup | None = None  # CALLCENTER_CRM_LOOKUP_URL set
    telephony: Telephony | None = None
    webhooks: WebhookService | None = None
    webhook_dispatcher: WebhookDispatcher | None = None  # started by the server only
    ticket_automation: TicketAutomation | None = None  # started by the server only
    mail: MailDesk | None = None  # set by running_services: mail in and out, portal links
    sla: SlaScheduler | None = None  # tickets' SLA clocks; always set by running_services
    sensitive: SensitiveService | None = None  # word lists, check(), alerts; always set
    chat: ChatService | None = None  # web chat (docs/chat.md); always set by running_services
    extras: dict[str, object] = field(default_factory=dict)

    def tickets(self) -> TicketService:
        """A ticket service over these services. Stateless, so built where needed (each
        request, each background component) rather than kept: one recipe for all."""
        from callcenter.tickets.service import TicketService

        return TicketService(self.db, self.bus, self.clock, flush=self.calls.flush,
                             online=self.agents.logged_in)  # fmt: skip


@asynccontextmanager
async def running_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = True,
    with_pbx: bool = False,
) -> AsyncIterator[Services]:
    """Start the database, the bus and the domain services; stop them in reverse order."""
    from callcenter.auth.service import AuthService

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = clock or Clock()
    async with AsyncExitStack() as stack:
        db = Database(settings.database)
        stack.push_async_callback(db.close)
        if migrate:
            from callcenter.migrate import upgrade

            await upgrade(db)
        # Queue visits and report rollups; written last, once everything else stopped.
        writer = ReportWriter(db, lambda queue: routing.router.queue(queue).service_level)
        stack.push_async_callback(writer.close)
        bus = create_bus(settings)
        await bus.start()
        stack.push_async_callback(bus.stop)
        agents = AgentService(db, bus, clock)
        # A broken routing file stops the start here, with its file:line problems.
        routing_config = await asyncio.to_thread(load_routing, settings.routing_file)
        routing_tasks = TaskSupervisor("routing")
        stack.push_async_callback(routing_tasks.stop)
        routing = RoutingService(
            routing_config, agents, clock, routing_tasks, bus=bus, on_visit=writer.visit
        )
        routing.start()
        crm: CrmLookup | None = None

        def call_started(call: Call, customer_class: str | None) -> None:
            writer.call_started(call, customer_class)
            # An incoming contact: the CRM is asked after the record is stored, off the
            # call's path (CrmLookup.contact only starts a task).
            if crm is not None and call.customer_id is not None and call.direction == "inbound":
                crm.contact(call.customer_id, "phone", normalize_phone(call.caller_number))

        calls = CallService(
            db, bus, clock, node=settings.node_name,
            on_change=writer.call_changed, on_start=call_started,
        )  # fmt: skip
        customers = CustomerService(db, clock, flush=calls.flush)
        if settings.crm_lookup_url:
            crm = CrmLookup(settings.crm_lookup_url, settings.crm_lookup_timeout, customers)
            stack.push_async_callback(crm.close)
        reports = ReportService(db, writer, settings.zone)
        services = Services(
            settings=settings,
            db=db,
            bus=bus,
            clock=clock,
            auth=AuthService(db=db, settings=settings, clock=clock),
            calls=calls,
            agents=agents,
            routing=routing,
            wallboard=Wallboard(bus, agents, routing, settings.zone, history=reports),
            announcements=Announcements(db, bus, clock),
            reports=reports,
            customers=customers,
            crm=crm,
        )
        stack.push_async_callback(services.calls.close)  # before the database closes
        if settings.voicemail_ticket_group:  # tk-desk: a voicemail makes a ticket
            voicemails = _voicemail_tickets(services)
            services.extras["voicemail_tickets"] = voicemails
            stack.push_async_callback(voicemails.stop)  # before the calls close
        from callcenter.mail.desk import running_mail

        services.mail = await stack.enter_async_context(running_mail(services))
        _automation(services)
        # Stopped before the database closes; started by the server (api.app), not by
        # commands, so a CLI command never delivers webhooks or fires triggers.
        stack.push_async_callback(_stop_automation, services)
        # Started by the server (api.app's lifespan), not by commands; stopped here in any
        # case, before the bus and the database (stop is idempotent).
        services.sla = SlaScheduler(services.tickets(), tick_seconds=settings.sla_tick_seconds)
        stack.push_async_callback(services.sla.stop)
        services.sensitive = _sensitive(services)  # started by the server (api.app)
        stack.push_async_callback(services.sensitive.stop)
        services.chat = _chat(services)
        if with_pbx:
            services.telephony = await stack.enter_async_context(_telephony(services))
        yield services


def _chat(services: Services) -> ChatService:
    """Web chat: visitors, conversations, chats routed like calls (docs/chat.md)."""
    from callcenter.chat.identity import parse_sites
    from callcenter.chat.service import ChatService

    s = services.settings
    return ChatService(
        services.db, services.bus, services.clock, services.routing, services.agents,
        queue=s.chat_queue, sites=parse_sites(s.chat_sites.get_secret_value()),
        signature_max_age=s.chat_signature_max_age,
    )  # fmt: skip


def _sensitive(services: Services) -> SensitiveService:
    """Sensitive-word lists and alerts (docs/sensitive-words.md)."""
    from callcenter.sensitive.service import SensitiveService

    return SensitiveService(services.db, services.bus, services.clock)


def _voicemail_tickets(services: Services) -> VoicemailTickets:
    """Tickets from voicemails (CALLCENTER_VOICEMAIL_TICKET_GROUP), started."""
    from callcenter.tickets.from_call import CallTickets
    from callcenter.tickets.voicemail import VoicemailTickets

    s = services.settings
    tickets = services.tickets()
    maker = VoicemailTickets(
        services.bus, services.calls,
        CallTickets(tickets, services.calls, zone=s.zone, language=s.default_language),
        group=s.voicemail_ticket_group, node=s.node_name,
    )  # fmt: skip
    maker.start()
    return maker


def _file_voicemails(services: Services, spool: Callable[[str], Path]) -> None:
    """With Asterisk's spool at hand, voicemails are filed and linked to their tickets."""
    from callcenter.calls.recordings import file_spooled
    from callcenter.tickets.voicemail import VoicemailTickets

    voicemails = services.extras.get("voicemail_tickets")
    if isinstance(voicemails, VoicemailTickets):
        voicemails.file_recording = partial(file_spooled, spool, services.settings.recordings_path)


def _automation(services: Services) -> None:
    """Webhooks, ticket triggers and automations, built here, started by the server.

    Email actions go out through the ticket mailer when outbound mail is set up
    (docs/email.md); without it they are recorded as skipped."""
    from callcenter.tickets.actions import ActionRunner
    from callcenter.tickets.automation import TicketAutomation
    from callcenter.tickets.automations import AutomationScheduler
    from callcenter.tickets.rule_store import automations, triggers
    from callcenter.tickets.triggers import TriggerRunner
    from callcenter.webhooks.dispatcher import DeliveryPolicy, WebhookDispatcher
    from callcenter.webhooks.service import WebhookService

    s, db, clock = services.settings, services.db, services.clock
    services.webhooks = WebhookService(db, clock)
    policy = DeliveryPolicy(
        timeout=s.webhook_timeout, max_attempts=s.webhook_max_attempts,
        concurrency=s.webhook_concurrency, retry_initial=s.webhook_retry_initial,
        retry_max=s.webhook_retry_max, poll_seconds=s.webhook_poll_seconds,
    )  # fmt: skip
    services.webhook_dispatcher = WebhookDispatcher(services.webhooks, services.bus, clock, policy)
    tickets = services.tickets()
    mailer = services.mail.mailer if services.mail and services.mail.config.sending else None
    actions = ActionRunner(tickets, db, mail=mailer, webhooks=services.webhooks,
                           online=services.agents.logged_in)  # fmt: skip
    services.ticket_automation = TicketAutomation(
        actions=actions,
        triggers=TriggerRunner(services.bus, triggers(db, clock), tickets, actions),
        scheduler=AutomationScheduler(db, clock, automations(db, clock), actions,
                                      tick_seconds=s.automation_tick_seconds),
    )  # fmt: skip


async def _stop_automation(services: Services) -> None:
    if services.ticket_automation is not None:
        await services.ticket_automation.stop()
    if services.webhook_dispatcher is not None:
        await services.webhook_dispatcher.stop()


@asynccontextmanager
async def _telephony(services: Services) -> AsyncIterator[Telephony]:
    """Connect to Asterisk and start handling calls; reconnects run in the background."""
    from callcenter.calls.agent_legs import AgentLegs
    from callcenter.calls.recordings import Recorder
    from callcenter.calls.stasis import CallController
    from callcenter.ivr.media import PromptMedia
    from callcenter.ivr.registry import FlowRegistry
    from callcenter.ivr.speech import RecordingRecognizer
    from callcenter.pbx.ami import AmiClient
    from callcenter.pbx.ari import AriClient
    from callcenter.pbx.sandbox import LocalPbx
    from callcenter.softphone.lines import Softphones

    settings = services.settings
    pbx = LocalPbx(settings)
    ari_user, ari_password = pbx.ari_credentials
    ami_user, ami_password = pbx.ami_credentials
    supervisor = TaskSupervisor()
    ari = AriClient(
        settings.ari_url or pbx.ari_url,
        ari_user,
        ari_password,
        settings.stasis_app,
        rest_over_websocket=settings.ari_rest_over_websocket,
        allowed_events=CONTROLLER_EVENTS,
    )
    # Only the event classes the controller acts on: with "on", every RTCP report and
    # dialplan step of every call would be parsed here for nothing.
    ami = AmiClient(
        settings.ami_host, settings.ami_port, ami_user, ami_password, events=AMI_EVENT_CLASSES
    )
    lang = settings.default_language
    greeting = [f"sound:{pbx.asterisk_media_path(f'prompts/{lang}/welcome')}"]
    flows = FlowRegistry(settings.flows_dir, settings.media_dir)

    def spool(name: str) -> Path:
        """Where Asterisk writes recording `name` (voicemails, speech, conversations)."""
        return pbx.instance_file(f"spool/recording/{name}.wav")[0]

    await asyncio.to_thread(flows.reload)
    _file_voicemails(services, spool)
    controller = CallController(
        ari,
        services.calls,
        supervisor,
        app=settings.stasis_app,
        greeting=greeting,
        flows=flows,
        media=PromptMedia(pbx, settings.media_dir),
        clock=services.clock,
        speech=RecordingRecognizer(spool),
        routing=services.routing,
    )
    softphones = Softphones(ari, app=settings.stasis_app, media_host=settings.softphone_media_host)
    legs = AgentLegs(
        ari,
        services.calls,
        services.agents,
        services.routing,
        supervisor,
        app=settings.stasis_app,
        softphones=softphones,
        recorder=Recorder(ari, spool, settings.recordings_path),
        requeue=controller.requeue,
        rejoin_seconds=settings.softphone_rejoin_seconds,
    )
    services.routing.ringer = legs
    softphones.answering = legs
    controller.adopt_conversation = legs.adopt
    controller.attach()
    legs.attach()
    supervisor.spawn(flows.watch(settings.ivr_reload_seconds), name="ivr-flows-watch")
    await ari.start()
    await ami.start()
    try:
        yield Telephony(
            ari=ari,
            ami=ami,
            supervisor=supervisor,
            controller=controller,
            flows=flows,
            softphones=softphones,
            legs=legs,
        )
    finally:
        services.routing.ringer = None
        await softphones.close_all()
        await ari.stop()
        await ami.stop()
        await supervisor.stop()

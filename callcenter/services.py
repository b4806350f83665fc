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
    from callcenter.bot.service import BotServices
    from callcenter.calls.agent_legs import AgentLegs
    from callcenter.calls.stasis import CallController
    from callcenter.calls.transcription import LazyPool, LiveTranscription
    from callcenter.chat.service import ChatService
    from callcenter.ivr.registry import FlowRegistry
    from callcenter.kb.knowledge import KnowledgeBase
    from callcenter.mail.desk import MailDesk
    from callcenter.messaging.service import MessagingService
    from callcenter.pbx.ami import AmiClient
    from callcenter.pbx.ari import AriClient
    from callcenter.sensitive.service import SensitiveService
    from callcenter.softphone.lines import Softphones
    from callcenter.tickets.automation import TicketAutomation
    from callcenter.tickets.service import TicketService
    from callcenter.tickets.voicemail import VoicemailTickets
    from callcenter.transcripts.store import TranscriptStore
    from callcenter.transcripts.voicemail import Transcriber
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
    transcription: LiveTranscription | None = None  # each side of conversations, live


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
    kb: KnowledgeBase | None = None  # knowledge-base retrieval; always set by running_services
    bot: BotServices | None = None  # the bot, its learning, canned responses; always set
    # Speech to text worker processes: started at the first need (calls/transcription.py).
    speech_pool: LazyPool | None = None
    transcripts: TranscriptStore | None = None  # call transcripts; always set by running_services
    chat: ChatService | None = None  # web chat (docs/chat.md); always set by running_services
    messaging: MessagingService | None = None  # docs/messaging.md; started by the server
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
        services.transcripts = _transcripts(services)
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
        _around_calls(services, stack)
        if with_pbx:
            services.telephony = await stack.enter_async_context(_telephony(services))
        yield services


def _around_calls(services: Services, stack: AsyncExitStack) -> None:
    """What the center does around its calls: the in-memory indexes (sensitive words, the
    knowledge base and its bot), speech to text and transcripts, web chat."""
    _indexes(services, stack)
    _speech(services, stack)
    services.chat = _chat(services)
    services.messaging = _messaging(services)
    stack.push_async_callback(services.messaging.stop)


def _indexes(services: Services, stack: AsyncExitStack) -> None:
    """The in-memory indexes kept in step by bus events: sensitive words, the knowledge
    base. Stopped before the bus and the database."""
    services.sensitive = _sensitive(services)  # started by the server (api.app)
    stack.push_async_callback(services.sensitive.stop)
    services.kb = _knowledge(services)
    stack.push_async_callback(services.kb.stop)
    services.bot = _bot(services)


def _bot(services: Services) -> BotServices:
    """The bot over the knowledge base, and canned responses (docs/bot.md)."""
    from callcenter.bot.service import bot_services

    return bot_services(services)


def _chat(services: Services) -> ChatService:
    """Web chat: visitors, conversations, chats routed like calls (docs/chat.md)."""
    from callcenter.chat.identity import parse_sites
    from callcenter.chat.service import ChatService

    s = services.settings
    return ChatService(
        services.db, services.bus, services.clock, services.routing, services.agents,
        queue=s.chat_queue, sites=parse_sites(s.chat_sites.get_secret_value()),
        signature_max_age=s.chat_signature_max_age,
        bot=services.bot.bot if services.bot is not None and s.chat_bot else None,
        sensitive=services.sensitive,
    )  # fmt: skip


def _messaging(services: Services) -> MessagingService:
    """External channels' users as chat visitors, replies out through them."""
    from callcenter.messaging.channels import parse_channels
    from callcenter.messaging.service import MessagingService, Policy

    s = services.settings
    assert services.chat is not None
    policy = Policy(timeout=s.messaging_timeout, max_attempts=s.messaging_max_attempts,
                    retry_initial=s.messaging_retry_initial, retry_max=s.messaging_retry_max,
                    max_skew=s.messaging_max_skew)  # fmt: skip
    channels = parse_channels(s.messaging_channels.get_secret_value())
    return MessagingService(channels, services.chat, services.db, services.bus,
                            clock=services.clock, policy=policy)  # fmt: skip


def _sensitive(services: Services) -> SensitiveService:
    """Sensitive-word lists and alerts (docs/sensitive-words.md)."""
    from callcenter.sensitive.service import SensitiveService

    return SensitiveService(services.db, services.bus, services.clock)


def _knowledge(services: Services) -> KnowledgeBase:
    """Knowledge-base retrieval, listening for changes; the model loads on first search."""
    from callcenter.kb.embedding import E5Embedder
    from callcenter.kb.knowledge import KnowledgeBase

    s = services.settings
    kb = KnowledgeBase(
        services.db, services.bus, services.clock,
        embedder=E5Embedder() if s.kb_semantic else None, threshold=s.kb_answer_threshold,
    )  # fmt: skip
    kb.start()
    return kb


def _speech(services: Services, stack: AsyncExitStack) -> None:
    """The speech pool, and what its words become: transcript segments in the engine's
    language, highlighted and checked against the sensitive-word lists as they are stored
    (an alert within a second or two of the words), voicemails transcribed before their
    ticket is made."""
    from callcenter.speech.engines import spec_from_settings
    from callcenter.transcripts.store import Segment

    pool = services.speech_pool = _speech_pool(services.settings)
    stack.push_async_callback(pool.stop)  # after telephony's streams
    spec = spec_from_settings(services.settings)
    store, sensitive = services.transcripts, services.sensitive
    if store is None:
        return
    store.language = "en" if spec.engine == "pocketsphinx" else spec.language or store.language
    if sensitive is not None:

        async def check(segment: Segment) -> None:
            if not sensitive.spans(segment.text, segment.language):
                return  # the usual case, decided in memory; else checked for good below
            call = await services.calls.call(segment.call_id)  # memory while in progress
            await sensitive.check(
                "call",
                str(segment.call_id),
                ref=str(segment.id),
                text=segment.text,
                language=segment.language,
                agent_id=call.agent_id,
            )  # the agent on the call, either side

        store.highlighter = sensitive.spans
        store.after_store.append(check)
    transcribe_voicemails(services, pool)


def _speech_pool(settings: Settings) -> LazyPool:
    """The speech pool, built when first used: it costs worker processes and a model."""
    from callcenter.calls.transcription import LazyPool, StartablePool

    def make() -> StartablePool:
        from callcenter.speech.pool import TranscriptionPool

        return TranscriptionPool(settings)

    return LazyPool(make)


def _voicemail_tickets(services: Services) -> VoicemailTickets:
    """Tickets from voicemails (CALLCENTER_VOICEMAIL_TICKET_GROUP), started."""
    from callcenter.tickets.from_call import CallTickets
    from callcenter.tickets.voicemail import VoicemailTickets

    s = services.settings
    tickets = services.tickets()
    maker = VoicemailTickets(
        services.bus, services.calls,
        CallTickets(tickets, services.calls, zone=s.zone, language=s.default_language,
                    transcripts=services.transcripts),
        group=s.voicemail_ticket_group, node=s.node_name,
    )  # fmt: skip
    maker.start()
    return maker


def _transcripts(services: Services) -> TranscriptStore:
    """Call transcripts. The live pipeline and the sensitive-word checker plug into it
    (`add`, `highlighter`, `after_store`); voicemails are transcribed when a speech pool
    is set with `transcribe_voicemails`."""
    from callcenter.transcripts.store import TranscriptStore

    return TranscriptStore(services.db, services.bus, services.calls, services.clock,
                           language=services.settings.default_language)  # fmt: skip


def transcribe_voicemails(services: Services, pool: Transcriber) -> None:
    """Voicemails go through `pool` (callcenter.speech.pool) before their ticket is made."""
    from callcenter.tickets.voicemail import VoicemailTickets
    from callcenter.transcripts.voicemail import VoicemailTranscriber

    voicemails = services.extras.get("voicemail_tickets")
    if isinstance(voicemails, VoicemailTickets) and services.transcripts is not None:
        voicemails.transcribe = VoicemailTranscriber(
            services.transcripts, pool, services.settings.recordings_path,
            language=services.transcripts.language,
        )  # fmt: skip


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


def _live_transcription(
    services: Services, ari: AriClient, supervisor: TaskSupervisor
) -> LiveTranscription | None:
    """Conversations on `transcribe` queues, each side to the speech pool. The pool is
    started now if routing.yaml has such a queue (the first call's first words count),
    else at the first call of a queue switched to `transcribe` at run time."""
    from callcenter.calls.transcription import LiveTranscription

    pool, settings = services.speech_pool, services.settings
    if pool is None:
        return None
    live = LiveTranscription(ari, pool.get, supervisor, app=settings.stasis_app,
                             clock=services.clock, host=settings.softphone_media_host,
                             sink=services.transcripts)  # fmt: skip
    ari.add_on_connected(live.sweep)
    router = services.routing.router
    if any(router.queue(name).transcribe for name in router.queue_names):
        supervisor.spawn(pool.get(), name="speech-pool-start")
    return live


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
    transcription = legs.transcription = _live_transcription(services, ari, supervisor)
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
            transcription=transcription,
        )
    finally:
        services.routing.ringer = None
        await softphones.close_all()
        if transcription is not None:
            await transcription.close()  # its helper channels, while ARI is still up
        await ari.stop()
        await ami.stop()
        await supervisor.stop()

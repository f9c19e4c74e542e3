// A small HAPI FHIR R4 server for local push tests: HAPI's RestfulServer with its in-memory
// HashMapResourceProvider (read, vread, _history, create, update) and a transaction endpoint that
// implements conditional create (ifNoneExist) and conditional update by identifier, resolving urn:uuid
// references. The JSON parser is strict, so a malformed resource is rejected with an OperationOutcome.
// With HAPI_INTROSPECT_URL set, every request but /metadata needs a bearer token that the authorization server
// at that URL (RFC 7662 introspection) says it issued and is still active, as a hospital's server requires.
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import ca.uhn.fhir.parser.StrictErrorHandler;
import ca.uhn.fhir.rest.annotation.Transaction;
import ca.uhn.fhir.rest.annotation.TransactionParam;
import ca.uhn.fhir.rest.api.MethodOutcome;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.PreconditionFailedException;
import ca.uhn.fhir.rest.server.provider.HashMapResourceProvider;
import ca.uhn.fhir.util.ResourceReferenceInfo;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.hl7.fhir.r4.model.*;

import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.*;

public class PeerBridgeHapiServer extends RestfulServer {
    private final Map<String, HashMapResourceProvider<? extends Resource>> providers = new HashMap<>();

    public PeerBridgeHapiServer() {
        super(FhirContext.forR4());
        getFhirContext().setParserErrorHandler(new StrictErrorHandler());
    }

    @Override
    protected void initialize() {
        for (Class<? extends Resource> type : List.of(ServiceRequest.class, Task.class, Consent.class, PractitionerRole.class)) {
            HashMapResourceProvider<? extends Resource> p = new HashMapResourceProvider<>(getFhirContext(), type);
            providers.put(type.getSimpleName(), p);
            registerProvider(p);
        }
        registerProvider(new TransactionProvider());
        String introspect = System.getenv("HAPI_INTROSPECT_URL");
        if (introspect != null && !introspect.isEmpty()) registerInterceptor(new BearerInterceptor(introspect));
    }

    /** Refuses (401) any request but the CapabilityStatement without a token the authorization server vouches for. */
    @Interceptor
    public static class BearerInterceptor {
        private final String introspectUrl;
        private final HttpClient http = HttpClient.newHttpClient();
        private final ObjectMapper json = new ObjectMapper();

        BearerInterceptor(String introspectUrl) { this.introspectUrl = introspectUrl; }

        @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_HANDLED)
        public void check(RequestDetails request, RestOperationTypeEnum operation) {
            if (operation == RestOperationTypeEnum.METADATA) return;
            String header = request.getHeader("Authorization");
            if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) throw refused("bearer token required");
            String token = header.substring(7).trim();
            try {
                HttpRequest ask = HttpRequest.newBuilder(URI.create(introspectUrl))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString("token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)))
                        .build();
                JsonNode answer = json.readTree(http.send(ask, HttpResponse.BodyHandlers.ofString()).body());
                if (!answer.path("active").asBoolean(false)) throw refused("token not active");
                if (!answer.path("scope").asText("").contains("system/")) throw refused("no system scope");
            } catch (java.io.IOException | InterruptedException e) {
                throw refused("token could not be checked");
            }
        }

        private static AuthenticationException refused(String why) {
            AuthenticationException e = new AuthenticationException(why);
            e.addResponseHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
            return e;
        }
    }

    /** Current resources of a type whose identifier matches "identifier=system|value". */
    private List<Resource> matching(String type, String query) {
        String token = URLDecoder.decode(query.replaceFirst("^identifier=", ""), StandardCharsets.UTF_8);
        List<Resource> found = new ArrayList<>();
        for (Object o : providers.get(type).getStoredResources()) {
            Resource r = (Resource) o;
            for (Object i : getFhirContext().newTerser().getValues(r, type + ".identifier")) {
                Identifier id = (Identifier) i;
                if (token.equals(id.getSystem() + "|" + id.getValue())) { found.add(r); break; }
            }
        }
        return found;
    }

    public class TransactionProvider {
        @SuppressWarnings({"unchecked", "rawtypes"})
        @Transaction
        public synchronized Bundle transaction(@TransactionParam Bundle input, RequestDetails request) {
            if (input.getType() != Bundle.BundleType.TRANSACTION) throw new InvalidRequestException("Bundle.type must be transaction");
            Map<String, String> resolved = new HashMap<>();   // fullUrl -> Type/id
            List<Bundle.BundleEntryComponent> entries = new ArrayList<>(input.getEntry());
            // FHIR processing order: POST before PUT.
            entries.sort(Comparator.comparing(e -> e.getRequest().getMethod() == Bundle.HTTPVerb.POST ? 0 : 1));
            Map<Bundle.BundleEntryComponent, String> status = new HashMap<>();
            for (Bundle.BundleEntryComponent e : entries) {
                Resource r = e.getResource();
                String type = r.fhirType();
                if (!providers.containsKey(type)) throw new InvalidRequestException("unsupported type " + type);
                String url = e.getRequest().getUrl();
                String query = e.getRequest().getMethod() == Bundle.HTTPVerb.POST ? e.getRequest().getIfNoneExist()
                        : (url.contains("?") ? url.substring(url.indexOf('?') + 1) : null);
                List<Resource> match = query == null ? List.of() : matching(type, query);
                if (match.size() > 1) throw new PreconditionFailedException("several " + type + " match " + query);
                String id = match.isEmpty() ? UUID.randomUUID().toString() : match.get(0).getIdElement().getIdPart();
                resolved.put(e.getFullUrl(), type + "/" + id);
                status.put(e, match.isEmpty() ? "201 Created" : (e.getRequest().getMethod() == Bundle.HTTPVerb.POST ? "200 OK" : "200 OK"));
                if (!match.isEmpty() && e.getRequest().getMethod() == Bundle.HTTPVerb.POST) status.put(e, "200 OK (matched)");
            }
            Bundle out = new Bundle().setType(Bundle.BundleType.TRANSACTIONRESPONSE);
            for (Bundle.BundleEntryComponent e : input.getEntry()) {
                Resource r = e.getResource();
                String target = resolved.get(e.getFullUrl());
                for (ResourceReferenceInfo ref : getFhirContext().newTerser().getAllResourceReferences(r)) {
                    String value = ref.getResourceReference().getReferenceElement().getValue();
                    if (value != null && resolved.containsKey(value)) ref.getResourceReference().setReference(resolved.get(value));
                }
                String s = status.get(e);
                Resource stored = r;
                if (!s.startsWith("200 OK (matched)")) {
                    r.setId(target);
                    HashMapResourceProvider p = providers.get(r.fhirType());
                    MethodOutcome mo = p.update(r, null, request);
                    stored = (Resource) p.read(mo.getId().toUnqualifiedVersionless(), request);
                } else {
                    stored = (Resource) providers.get(r.fhirType()).read(new IdType(target), request);
                }
                String version = stored.getMeta().getVersionId();
                out.addEntry().getResponse().setStatus(s.replace(" (matched)", ""))
                        .setLocation(target + "/_history/" + version).setEtag("W/\"" + version + "\"");
            }
            return out;
        }
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args.length > 0 ? args[0] : "8090");
        Server server = new Server(port);
        ServletContextHandler ctx = new ServletContextHandler();
        ctx.setContextPath("/");
        ctx.addServlet(new ServletHolder(new PeerBridgeHapiServer()), "/fhir/*");
        server.setHandler(ctx);
        server.start();
        System.out.println("HAPI FHIR R4 server ready on http://127.0.0.1:" + port + "/fhir");
        server.join();
    }
}

// A HAPI FHIR JPA server (R4, PostgreSQL) as a hospital runs one: HAPI's own JPA configuration (JpaR4Config,
// HapiJpaConfig, batch2) with the few beans a deployment supplies (data source, entity manager, storage settings),
// which is what hapi-fhir-jpaserver-starter wires through Spring Boot, here without Boot on embedded Jetty.
// The one RestfulServer answers on two paths: /fhir (open) and /smart/fhir, where every request but /metadata
// needs a bearer token that the authorization server at HAPI_INTROSPECT_URL (RFC 7662) says is active and carries a
// system scope, as a hospital's server requires. Environment: HAPI_PORT, HAPI_DB_URL (jdbc:postgresql://...),
// HAPI_DB_USER, HAPI_INTROSPECT_URL (optional), HAPI_DB_POOL (connections, default 10).
import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Interceptor;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binstore.MemoryBinaryStorageSvcImpl;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.exceptions.AuthenticationException;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.servlet.ServletRequestDetails;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import jakarta.persistence.EntityManagerFactory;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.servlet.ServletMapping;
import org.eclipse.jetty.server.Server;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;
import org.springframework.transaction.annotation.EnableTransactionManagement;

import javax.sql.DataSource;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;

public class PeerBridgeHapiServer {
    /** The types a referral pushes, and SearchParameter, which HAPI's search parameter registry reads. */
    static final List<String> TYPES = List.of("ServiceRequest", "Task", "Consent", "PractitionerRole", "SearchParameter");

    static String env(String name, String otherwise) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? otherwise : v;
    }

    @Configuration
    @EnableTransactionManagement
    @Import({JpaR4Config.class, HapiJpaConfig.class, JpaBatch2Config.class, Batch2JobsConfig.class,
            ThreadPoolFactoryConfig.class, SubscriptionChannelConfig.class})
    public static class Config {
        @Bean(destroyMethod = "close")
        public DataSource dataSource() {
            HikariDataSource ds = new HikariDataSource();
            ds.setJdbcUrl(env("HAPI_DB_URL", "jdbc:postgresql://127.0.0.1:55432/hapi"));
            ds.setUsername(env("HAPI_DB_USER", "postgres"));
            ds.setMaximumPoolSize(Integer.parseInt(env("HAPI_DB_POOL", "10")));
            return ds;
        }

        @Bean
        public JpaStorageSettings storageSettings() {
            JpaStorageSettings s = new JpaStorageSettings();
            // A hospital's server has no use for our test data's bulk jobs; the defaults otherwise (search cache,
            // reference checks, conditional-operation semantics) stay HAPI's own.
            s.setEnableTaskBulkImportJobExecution(false);
            s.setEnableTaskBulkExportJobExecution(false);
            s.setEnableTaskPreExpandValueSets(false);
            return s;
        }

        @Bean
        public PartitionSettings partitionSettings() { return new PartitionSettings(); }

        @Bean
        public SubscriptionSettings subscriptionSettings() { return new SubscriptionSettings(); }

        @Bean
        public IBinaryStorageSvc binaryStorage() { return new MemoryBinaryStorageSvcImpl(); }

        @Bean
        @Primary
        public LocalContainerEntityManagerFactoryBean entityManagerFactory(ConfigurableListableBeanFactory beans,
                FhirContext ctx, JpaStorageSettings settings) {
            LocalContainerEntityManagerFactoryBean emf = HapiEntityManagerFactoryUtil.newEntityManagerFactory(beans, ctx, settings);
            emf.setPersistenceUnitName("HAPI_PU");
            emf.setDataSource(dataSource());
            Properties p = new Properties();
            p.put("hibernate.dialect", HapiFhirPostgresDialect.class.getName());
            // HAPI's schema from its entities on first start (as the starter does); a database of its own per run
            p.put("hibernate.hbm2ddl.auto", "update");
            p.put("hibernate.search.enabled", "false");
            p.put("hibernate.jdbc.batch_size", "20");
            p.put("hibernate.cache.use_query_cache", "false");
            p.put("hibernate.cache.use_second_level_cache", "false");
            p.put("hibernate.format_sql", "false");
            p.put("hibernate.show_sql", "false");
            emf.setJpaProperties(p);
            return emf;
        }

        @Bean
        @Primary
        public JpaTransactionManager transactionManager(EntityManagerFactory emf) {
            return new JpaTransactionManager(emf);
        }
    }

    /** Refuses (401) a request on /smart/... but the CapabilityStatement without a token the authorization server
     *  vouches for; /fhir stays open. */
    @Interceptor
    public static class BearerInterceptor {
        private final String introspectUrl;
        private final HttpClient http = HttpClient.newHttpClient();
        private final ObjectMapper json = new ObjectMapper();

        BearerInterceptor(String introspectUrl) { this.introspectUrl = introspectUrl; }

        @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_HANDLED)
        public void check(RequestDetails request, RestOperationTypeEnum operation) {
            if (operation == RestOperationTypeEnum.METADATA) return;
            if (!(request instanceof ServletRequestDetails srd) || !srd.getServletRequest().getServletPath().startsWith("/smart")) return;
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

    @SuppressWarnings({"rawtypes", "unchecked"})
    static RestfulServer restfulServer(AnnotationConfigApplicationContext spring) {
        IFhirSystemDao systemDao = spring.getBean(IFhirSystemDao.class);
        spring.getBean(DaoRegistry.class).setSupportedResourceTypes(TYPES);
        RestfulServer server = new RestfulServer(systemDao.getContext());
        server.registerProviders(spring.getBean(ResourceProviderFactory.class).createProviders());
        server.registerProvider(spring.getBean(JpaSystemProvider.class));
        server.setServerConformanceProvider(new JpaCapabilityStatementProvider(server, systemDao,
                spring.getBean(JpaStorageSettings.class), spring.getBean(ISearchParamRegistry.class),
                spring.getBean(IValidationSupport.class)));
        server.setPagingProvider(spring.getBean(DatabaseBackedPagingProvider.class));
        String introspect = System.getenv("HAPI_INTROSPECT_URL");
        if (introspect != null && !introspect.isEmpty()) server.registerInterceptor(new BearerInterceptor(introspect));
        return server;
    }

    public static void main(String[] args) throws Exception {
        long started = System.nanoTime();
        int port = Integer.parseInt(env("HAPI_PORT", "8090"));
        AnnotationConfigApplicationContext spring = new AnnotationConfigApplicationContext(Config.class);
        Server jetty = new Server(port);
        ServletContextHandler ctx = new ServletContextHandler();
        ctx.setContextPath("/");
        ServletHolder holder = new ServletHolder("hapi", restfulServer(spring));
        holder.setInitOrder(1);
        ctx.getServletHandler().addServlet(holder);
        ServletMapping mapping = new ServletMapping();
        mapping.setServletName("hapi");
        mapping.setPathSpecs(new String[] {"/fhir/*", "/smart/fhir/*"});
        ctx.getServletHandler().addServletMapping(mapping);
        jetty.setHandler(ctx);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try { jetty.stop(); } catch (Exception ignored) { }
            spring.close();
        }));
        jetty.start();
        System.out.printf("HAPI FHIR JPA server ready on http://127.0.0.1:%d/fhir in %.1f s%n", port,
                (System.nanoTime() - started) / 1e9);
        jetty.join();
    }
}

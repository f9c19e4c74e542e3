// HL7's FHIR validation engine (org.hl7.fhir.validation through HAPI FHIR's FhirInstanceValidator) with the R4
// core definitions, as a long-running process for the tests: one FHIR JSON resource per line on stdin, one
// OperationOutcome per line on stdout (empty issue list when nothing was found). No terminology server is asked
// (there is no network): codes are checked against the value sets and code systems bundled with the R4 core
// definitions and HAPI's built-in common code systems (UCUM, BCP-47, ISO 3166, MIME types, ...); a code system
// that is not bundled (ICD-10-CM, SNOMED CT, HCPCS, our own urn: systems) cannot be checked and gives a warning.
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.StringType;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

public class PeerBridgeFhirValidator {
    public static void main(String[] args) throws Exception {
        FhirContext ctx = FhirContext.forR4();
        ValidationSupportChain chain = new ValidationSupportChain(
                new DefaultProfileValidationSupport(ctx),
                new CommonCodeSystemsTerminologyService(ctx),
                new InMemoryTerminologyServerValidationSupport(ctx),
                new SnapshotGeneratingValidationSupport(ctx));
        FhirInstanceValidator module = new FhirInstanceValidator(chain);
        module.setNoTerminologyChecks(false);
        FhirValidator validator = ctx.newValidator().registerValidatorModule(module);

        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        validator.validateWithResult("{\"resourceType\":\"Basic\",\"code\":{\"text\":\"warm-up\"}}");
        out.println("ready");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            OperationOutcome oo = new OperationOutcome();
            try {
                ValidationResult result = validator.validateWithResult(line);
                for (SingleValidationMessage m : result.getMessages()) {
                    OperationOutcome.OperationOutcomeIssueComponent issue = oo.addIssue();
                    issue.setSeverity(severity(m.getSeverity()));
                    issue.setCode(OperationOutcome.IssueType.PROCESSING);
                    issue.setDiagnostics((m.getMessageId() == null ? "" : "[" + m.getMessageId() + "] ") + m.getMessage());
                    if (m.getLocationString() != null) issue.addExpression(m.getLocationString());
                }
            } catch (RuntimeException e) {
                oo.addIssue().setSeverity(OperationOutcome.IssueSeverity.FATAL)
                        .setCode(OperationOutcome.IssueType.EXCEPTION).setDiagnostics(e.toString());
            }
            out.println(ctx.newJsonParser().setPrettyPrint(false).encodeResourceToString(oo));
        }
    }

    private static OperationOutcome.IssueSeverity severity(ResultSeverityEnum s) {
        switch (s) {
            case FATAL: return OperationOutcome.IssueSeverity.FATAL;
            case ERROR: return OperationOutcome.IssueSeverity.ERROR;
            case WARNING: return OperationOutcome.IssueSeverity.WARNING;
            default: return OperationOutcome.IssueSeverity.INFORMATION;
        }
    }
}

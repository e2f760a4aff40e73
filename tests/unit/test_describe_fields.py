"""read_describe's tables: which describe field goes where, and what each section header does."""

from pytest_kfs.diagnosis.pasted import read_describe


def test_fields_land_in_their_parts_of_the_inferenceservice():
    assert read_describe("""Name:         fraud
Namespace:    models
Spec:
  Predictor:
    Model:
      Runtime:      kserve-sklearnserver
      Storage Uri:  gs://ml-prod/fraud/v7
Status:
  Components:
    Predictor:
      Latest Created Revision:  fraud-predictor-00002
  Deployment Mode:  Serverless
  URL:              http://fraud.models.example.com
  Model Status:
    Last Failure Info:
      Exit Code:  1
      Reason:     ModelLoadFailed
      Message:    the model file is
                  not there
    States:
      Target Model State:  FailedToLoad
      Reason:              not a failure field here
    Transition Status:     BlockedByFailedLoad
""") == {
        "status": {
            "deploymentMode": "Serverless",
            "url": "http://fraud.models.example.com",
            "modelStatus": {
                "transitionStatus": "BlockedByFailedLoad",
                "lastFailureInfo": {
                    "exitCode": 1,
                    "reason": "ModelLoadFailed",
                    "message": "the model file is not there",
                },
                "states": {"targetModelState": "FailedToLoad"},
            },
            "components": {"predictor": {"latestCreatedRevision": "fraud-predictor-00002"}},
        },
        "spec": {
            "predictor": {
                "model": {"runtime": "kserve-sklearnserver", "storageUri": "gs://ml-prod/fraud/v7"}
            }
        },
        "metadata": {"name": "fraud", "namespace": "models"},
    }


def test_a_condition_ends_with_its_type_and_may_come_without_its_header():
    found = read_describe("""    Last Transition Time:  2026-11-26T06:43:25Z
    Reason:                MinimumReplicasUnavailable
    Status:                False
    Type:                  Ready
    Name:                  not the service's
    Status:                True
    Type:                  PredictorReady
    Message:               a condition without a Type is dropped
""")
    assert found == {
        "status": {
            "conditions": [
                {
                    "lastTransitionTime": "2026-11-26T06:43:25Z",
                    "reason": "MinimumReplicasUnavailable",
                    "status": "False",
                    "type": "Ready",
                },
                {"status": "True", "type": "PredictorReady"},
            ]
        }
    }


def test_only_the_first_name_outside_a_section_is_the_services():
    assert read_describe("Name:  fraud\nName:  fraud-predictor-00001\n") == {
        "metadata": {"name": "fraud"}
    }

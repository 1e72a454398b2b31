"""Small hand-written manifests for rule and merge tests (real fixtures are used elsewhere)."""

STATEFULSET = """\
---
# Source: app/templates/db.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: rel-db
  namespace: prod
  labels:
    app.kubernetes.io/name: postgresql
spec:
  replicas: 1
  template:
    metadata:
      labels:
        app.kubernetes.io/name: postgresql
    spec:
      initContainers:
        - name: init-chmod
          image: busybox:1.36
      containers:
        - name: exporter
          image: quay.io/prometheuscommunity/postgres-exporter:v0.15.0
        - name: postgresql
          image: docker.io/library/postgres:16
          env:
            - name: POSTGRES_PASSWORD
              value: secret
          resources:
            limits:
              memory: 512Mi
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
      volumes:
        - name: config
          configMap:
            name: rel-db
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 1Gi
"""

DEPLOYMENT = """\
---
# Source: app/templates/web.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""

CRONJOB = """\
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: rel-report
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: alpine:3.20
"""

POD = """\
---
apiVersion: v1
kind: Pod
metadata:
  name: rel-pod
spec:
  containers:
    - name: main
      image: redis:7
"""

CUSTOM = """\
---
apiVersion: example.com/v1
kind: Workload
metadata:
  name: rel-custom
spec:
  pod:
    metadata: {}
    spec:
      containers:
        - name: app
          image: mysql:8
"""

SERVICE = """\
---
apiVersion: v1
kind: Service
metadata:
  name: rel-db
spec:
  ports:
    - port: 5432
"""

STREAM = STATEFULSET + SERVICE + DEPLOYMENT + CRONJOB + POD


def ruleset(*rules: dict, params: dict | None = None) -> dict:
    data: dict = {"apiVersion": "velero-postrender/v1", "kind": "RuleSet", "rules": list(rules)}
    if params:
        data["params"] = params
    return data
